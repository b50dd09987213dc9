/*-------------------------------------------------------------------------
 *
 * api.h
 *		  The api layer (request.c, reply.c, api.c, list.c): typed calls of the
 *		  checkpoint-permissions API (list a page, walk a list, create,
 *		  delete), the requests they send and the checks of their replies.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CP_API_H
#define CP_API_H

#include "transport.h"

/* Walks one list request across its pages (list.c). */
typedef struct CpLister CpLister;

/* request.c */
extern char *cp_permissions_path(const char *checkpoint);
extern char *cp_permissions_path_placeholder(const char *placeholder);
extern char *cp_permission_path(const char *checkpoint, const char *permission_id);
extern char *cp_list_page_path(const char *base, int limit, const char *after);
extern void cp_append_query(StringInfo buf, const char *name, const char *value);
extern char *cp_create_body(char **project_ids, int n);

/* cp_list_base_path's placeholders: which value is an EXPLAIN {placeholder} */
#define CP_PLACEHOLDER_PROJECT 1
#define CP_PLACEHOLDER_CHECKPOINT 2
extern char *cp_list_base_path(const char *checkpoint, const char *project_id,
							   int placeholders, CpOrder order);


/* list.c */
extern CpLister *cp_lister_create(const CpOptions *opts, CpStats *stats, MemoryContext parent);
extern void cp_lister_start(CpLister *lister, const char *base_path);
extern void cp_lister_set_page_limit(CpLister *lister, int limit);
extern bool cp_lister_rewind(CpLister *lister);
extern void cp_lister_set_checkpoint(CpLister *lister, char *checkpoint);
extern bool cp_lister_needs_page(const CpLister *lister);
extern void cp_lister_fetch_ahead(CpLister **listers, int n);
extern CpPermission *cp_lister_next(CpLister *lister);
extern void cp_lister_fetch_first(CpLister **listers, int n);

/* reply.c */
CP_NORETURN extern void cp_report_http_error(const CpOptions *opts, const CpRequest *req,
											 const CpResponse *resp, int retries);
extern void cp_parse_page(const CpOptions *opts, const CpResponse *resp, CpPage *page);
extern bool cp_parse_deleted(const CpOptions *opts, const CpResponse *resp,
							 const char *permission_id);

/* api.c */
extern void cp_api_list(const CpOptions *opts, char *path, CpPage *page, CpStats *stats);
extern CpPermission *cp_api_create(const CpOptions *opts, char **project_ids, int n,
								   const char *progress, CpStats *stats,
								   const char **unknown_reason);
extern CpPermission *cp_read_created(const CpOptions *opts, const CpResponse *resp,
									 char **project_ids, int n, const char **unknown_reason);
extern bool cp_api_delete(const CpOptions *opts, const char *permission_id,
						  const char *progress, CpStats *stats);

/* Revokes sent by one cp_http_send_many call: bounds the transfers held. */
#define CP_DELETE_SLICE 256
extern void cp_api_delete_many(const CpOptions *opts, char **checkpoints,
							   char **permission_ids, char **project_ids, int n,
							   bool *revoked, int64 *applied, CpStats *stats);

#endif							/* CP_API_H */
