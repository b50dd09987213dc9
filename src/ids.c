/*-------------------------------------------------------------------------
 *
 * ids.c
 *		  The one rule of what an id can be, for every layer: the checks of a
 *		  value that would reach a header, a URL or a body, and the cut of a
 *		  value a message repeats.
 *
 * cp_id_possible says whether the API could have an id like a value: an id
 * being written that cannot be one is refused before any request is built
 * (cp_check_sql_id), a value in a condition that cannot be one matches
 * nothing (plan.c), and an id in a reply that cannot be one is a malformed
 * reply (reply.c).  Values that messages repeat are cut to a readable
 * length (cp_shorten).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "checkpoint_perms.h"

/*
 * Is value fit to reach a header line, a URL or a JSON body: at most maxlen
 * bytes, no control character (CR and LF would end a header line; NUL
 * would cut it), no white space at either end?  Sets *byte to the 1-based
 * offset of a control character.
 */
CpValueProblem
cp_value_problem(const char *value, size_t maxlen, int *byte)
{
	size_t		len = strlen(value);
	const unsigned char *p;

	*byte = 0;
	if (len > maxlen)
		return CP_VALUE_TOO_LONG;
	for (p = (const unsigned char *) value; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
		{
			*byte = (int) (p - (const unsigned char *) value) + 1;
			return CP_VALUE_CONTROL;
		}
	if (len > 0 && (value[0] == ' ' || value[len - 1] == ' '))
		return CP_VALUE_SPACE;
	return CP_VALUE_OK;
}

/* A sentence for an errdetail; it never repeats the value itself. */
char *
cp_value_problem_detail(CpValueProblem problem, const char *value, size_t maxlen, int byte)
{
	switch (problem)
	{
		case CP_VALUE_TOO_LONG:
			return psprintf("It has %zu bytes; at most %zu are accepted.", strlen(value), maxlen);
		case CP_VALUE_CONTROL:
			return psprintf("Byte %d is the control character 0x%02X; no character below 0x20, nor 0x7F, is accepted.",
							byte, (unsigned char) value[byte - 1]);
		case CP_VALUE_SPACE:
			return pstrdup("It begins or ends with a space.");
		case CP_VALUE_OK:
			break;
	}
	return pstrdup("");
}

const char *
cp_id_name(CpIdKind kind)
{
	switch (kind)
	{
		case CP_ID_CHECKPOINT:
			return "checkpoint id";
		case CP_ID_PROJECT:
			return "project id";
		case CP_ID_PERMISSION:
			return "permission id";
	}
	return "id";
}

size_t
cp_id_max_len(CpIdKind kind)
{
	switch (kind)
	{
		case CP_ID_CHECKPOINT:
			return CP_MAX_CHECKPOINT_LEN;
		case CP_ID_PROJECT:
			return CP_MAX_PROJECT_ID_LEN;
		case CP_ID_PERMISSION:
			return CP_MAX_PERMISSION_ID_LEN;
	}
	return 0;
}

/*
 * Could the API have an id like this?  Not when it is empty, too long,
 * holds a control character or white space at either end: reply.c refuses
 * such an id from the API.  The one rule for ids: a value being written
 * that fails it is an error (cp_check_sql_id), a value in a condition
 * matches nothing (plan.c, cp_condition_values).
 */
bool
cp_id_possible(CpIdKind kind, const char *value)
{
	int			byte;

	return value[0] != '\0' &&
		cp_value_problem(value, cp_id_max_len(kind), &byte) == CP_VALUE_OK;
}

/*
 * Check an id that comes from SQL (a project id to grant or to filter on, a
 * permission id to revoke) before it reaches any request.  No id of the API
 * looks like this, so it is the caller's mistake, not something to send.
 * The value is not repeated: it may be long, or hold a line break.
 * progress ends the detail: what the statement already did, or "".
 */
void
cp_check_sql_id(CpIdKind kind, const char *value, const char *progress)
{
	size_t		maxlen = cp_id_max_len(kind);
	int			byte;
	CpValueProblem problem = cp_value_problem(value, maxlen, &byte);

	if (problem == CP_VALUE_OK)
		return;
	ereport(ERROR,
			(errcode(problem == CP_VALUE_TOO_LONG ?
					 ERRCODE_STRING_DATA_RIGHT_TRUNCATION : ERRCODE_INVALID_PARAMETER_VALUE),
			 problem == CP_VALUE_TOO_LONG ?
			 errmsg("%s is too long", cp_id_name(kind)) :
			 problem == CP_VALUE_CONTROL ?
			 errmsg("%s contains a control character", cp_id_name(kind)) :
			 errmsg("%s begins or ends with white space", cp_id_name(kind)),
			 errdetail("%s The id was not sent.%s",
					   cp_value_problem_detail(problem, value, maxlen, byte), progress)));
}

/*
 * A value for a message: cut to CP_MESSAGE_VALUE_LEN bytes (on a character
 * boundary) and "..." when longer, so that a 100,000-byte id does not fill
 * the client's screen and the server log.
 */
char *
cp_shorten(const char *value)
{
	int			len = strlen(value);
	int			cut;

	if (len <= CP_MESSAGE_VALUE_LEN)
		return pstrdup(value);
	cut = pg_mbcliplen(value, len, CP_MESSAGE_VALUE_LEN);
	return psprintf("%.*s...", cut, value);
}
