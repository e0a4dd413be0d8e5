/* imap_search: IMAP search programs (RFC 3501 6.4.4, RFC 9051 6.4.4, with
 * CONDSTORE's MODSEQ and SEARCHRES's "$"): parsing them into a tree and
 * running them over the selected mailbox. Used by SEARCH, SORT and THREAD.
 * Internal to the IMAP engine. */
#ifndef POSTHORN_IMAP_IMAP_SEARCH_H
#define POSTHORN_IMAP_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_private.h"

/* Mailboxes with more messages than this use the full-text index to find
 * candidates for TEXT, BODY, SUBJECT, FROM, TO and CC (words and word
 * prefixes: a string inside a word is then not found); every candidate is
 * then checked. Smaller ones are scanned, with IMAP's exact substring
 * semantics. */
#define IMAP_SEARCH_SCAN_MAX 5000

struct imap_search;

struct imap_search_result {
	uint32_t *uids;	   /* ascending */
	uint64_t *modseqs; /* parallel to uids */
	size_t count;
	uint64_t highestmodseq; /* of the matches (for CONDSTORE's (MODSEQ n)) */
	bool modseq_used;	/* the program had a MODSEQ key */
};

/* Parses args[0..argc) as a search program. charset NULL: a leading
 * "CHARSET x" is accepted (SEARCH); SORT and THREAD give the charset as
 * their own argument and pass it here (already checked with
 * imap_search_set_charset). Returns NULL with *error_r; *badcharset_r is
 * set when the charset is the problem (reply NO [BADCHARSET (UTF-8)]). The
 * program keeps pointers into args: keep them alive. */
struct imap_search *imap_search_parse(struct imap_session *s, const struct imap_arg *args, size_t argc,
				      const char *charset, const char **error_r, bool *badcharset_r);
/* 0 when we can search in charset, -1 with *error_r otherwise. */
int imap_search_set_charset(const char *charset, const char **error_r);
/* Runs the program over the messages of the selected mailbox that the
 * client knows. Returns 0 or -1 (*error_r). */
int imap_search_run(struct imap_session *s, struct imap_search *q, struct imap_search_result *res,
		    const char **error_r);
void imap_search_free(struct imap_search **q);
/* For a program kept beyond its command (CONTEXT=SEARCH's UPDATE, RFC
 * 5267): sequence-number keys and "$" become the UIDs they name now, so
 * that later expunges and SEARCH ... SAVE do not change what it means.
 * The program no longer points into the command's arguments afterwards. */
void imap_search_pin(struct imap_session *s, struct imap_search *q);
/* Whether message m of the selected mailbox (seq: its sequence number)
 * matches the program; m needs the fields of STORE_FIELD_BASIC only (the
 * rest is loaded when the program needs it). Returns 1 match, 0 no match,
 * -1 (*error_r) when the message could not be read. */
int imap_search_match(struct imap_session *s, struct imap_search *q, const struct store_msg *m, uint32_t seq,
		      const char **error_r);
void imap_search_result_clear(struct imap_search_result *res);

#endif
