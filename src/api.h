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
extern void cp_lister_start(CpLister *lister, const char *base_path, const char *project_id);
extern void cp_lister_set_page_limit(CpLister *lister, int limit);
extern void cp_check_listed_project(const CpPermission *perm, const char *project_id,
									const char *path);
extern bool cp_lister_rewind(CpLister *lister);
extern void cp_lister_set_checkpoint(CpLister *lister, char *checkpoint);
extern bool cp_lister_needs_page(const CpLister *lister);
extern void cp_lister_fetch_ahead(CpLister **listers, int n);
extern void cp_lister_fetch_round(CpLister **listers, int n);
extern CpPermission *cp_lister_next(CpLister *lister);
extern bool cp_lister_refused(const CpLister *lister);
extern const char *cp_lister_cursor(const CpLister *lister);
extern const CpPage *cp_lister_page(const CpLister *lister);
extern void cp_lister_resume(CpLister *lister, const char *after);
CP_NORETURN extern void cp_lister_report_refused(const CpLister *lister, const char *hint);
extern CpPermission *cp_lister_next_in_page(CpLister *lister);
extern bool cp_lister_next_page(CpLister *lister);
extern bool cp_lister_exhausted(const CpLister *lister);
extern void cp_lister_fetch_first(CpLister **listers, int n);

/* What the reply to a DELETE says (cp_read_deleted). */
typedef enum CpDeleteAnswer
{
	CP_DELETE_DELETED,			/* 2xx, "deleted": true */
	CP_DELETE_GONE,				/* 404: no such permission, or no longer */
	CP_DELETE_KEPT				/* 2xx, "deleted": false: the API kept it */
} CpDeleteAnswer;

/* reply.c */
extern char *cp_mask_key(const CpOptions *opts, const char *str);
CP_NORETURN extern void cp_report_http_error(const CpOptions *opts, const CpRequest *req,
											 const CpResponse *resp);
extern bool cp_reply_refuses_param(const CpResponse *resp, const char *param);
CP_NORETURN extern void cp_report_bad_request(const CpOptions *opts, const CpRequest *req,
											  const CpResponse *resp, const char *hint);
extern void cp_parse_page(const CpOptions *opts, const CpResponse *resp, CpPage *page);
extern bool cp_parse_deleted(const CpOptions *opts, const CpResponse *resp,
							 const char *permission_id);
CP_NORETURN extern void cp_report_out_of_order(const CpPermission *perm, int64 last_t,
											   bool descending);

/*
 * api.c: each call sends its request with the request line as the error
 * context and checks its reply.  A request that ends without a usable
 * reply is an error (the transport's words for one that never came whole,
 * reply.c's for a status), except that a create whose outcome is unknown
 * is returned as such, never raised: only the effects layer can learn
 * what it did.  The caller owns each CpTransfer, so that after an error
 * it still reads what became of the request (t->outcome).
 */
extern bool cp_api_list(const CpOptions *opts, char *path, CpPage *page, CpStats *stats,
							  CpTransfer *refused);
CP_NORETURN extern void cp_api_report_refused(const CpOptions *opts, const CpTransfer *refused,
											  const char *hint);
extern void cp_api_send_many(const CpOptions *opts, CpTransfer *t, int n,
							 void (*on_reply) (CpTransfer *t, void *arg),
							 const char *(*progress) (void *arg), void *arg, CpStats *stats);
extern void cp_api_read_ahead(const CpOptions *opts, CpTransfer *t, int n,
							  void (*on_reply) (CpTransfer *t, void *arg), CpStats *stats);
extern void cp_api_create_request(CpTransfer *t, const char *checkpoint, char **project_ids,
								  int n);
extern CpPermission *cp_api_create(const CpOptions *opts, CpTransfer *t, char **project_ids,
								   int n, const char *progress, CpStats *stats,
								   const char **unknown_reason);
extern CpPermission *cp_read_created(const CpOptions *opts, const CpTransfer *t,
									 char **project_ids, int n, const char **unknown_reason);
extern void cp_api_delete_request(CpTransfer *t, const char *checkpoint,
								  const char *permission_id);
extern CpDeleteAnswer cp_api_delete(const CpOptions *opts, CpTransfer *t,
									const char *permission_id, const char *progress,
									CpStats *stats);
extern CpDeleteAnswer cp_read_deleted(const CpOptions *opts, const CpTransfer *t,
									  const char *permission_id);
CP_NORETURN extern void cp_api_report_kept(const CpOptions *opts, const CpTransfer *t,
										   const char *permission_id, int others,
										   const char *progress);

/* Revokes sent by one cp_api_send_many call: bounds the transfers held. */
#define CP_DELETE_SLICE 256

#endif							/* CP_API_H */
