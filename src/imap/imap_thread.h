/* imap_thread: the base subject of RFC 5256 2.1, and the THREAD algorithms
 * ORDEREDSUBJECT and REFERENCES (RFC 5256 sections 3 and 4). Pure
 * functions over an array of messages; no I/O. */
#ifndef POSTHORN_IMAP_IMAP_THREAD_H
#define POSTHORN_IMAP_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

/* The base subject of a (decoded, UTF-8) subject: blobs, "Re:", "Fwd:",
 * "(fwd)" and "[fwd: ...]" wrappers removed, whitespace collapsed. Returns
 * a new string; *reply_r (if not NULL) tells whether anything but
 * whitespace was removed (a reply or forward). */
char *imap_base_subject(const char *subject, bool *reply_r);

struct imap_thread_msg {
	uint32_t id;		/* what is printed: sequence number or UID */
	uint32_t seq;		/* for tie-breaks */
	time_t date;		/* sent date (internal date when absent) */
	const char *subject;	/* decoded, UTF-8; NULL = "" */
	const char *message_id; /* raw header values, or NULL */
	const char *in_reply_to;
	const char *references;
};

/* Appends the THREAD response data ("(1)(2 3)...") for msgs. */
void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t n, struct buf *out);
void imap_thread_references(const struct imap_thread_msg *msgs, size_t n, struct buf *out);

#endif
