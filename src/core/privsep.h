/* privsep: dropping root for good (STYLE.md 2.8). */
#ifndef POSTHORN_CORE_PRIVSEP_H
#define POSTHORN_CORE_PRIVSEP_H

#include <stddef.h>
#include <sys/types.h>

/* Looks up user; fills uid/gid. Returns 0 or -1 with a message. */
int privsep_lookup(const char *user, uid_t *uid_r, gid_t *gid_r, char *err, size_t err_size);
/* setgroups -> setresgid -> setresuid, PR_SET_NO_NEW_PRIVS, and checks that
 * regaining root now fails. Aborts the process on any failure: running with
 * privileges we meant to drop is never acceptable. */
void privsep_drop(uid_t uid, gid_t gid);
/* Makes dir exist (mode 0700) and be owned by uid/gid, with every file
 * directly inside it (the database and its WAL). Used as root. */
int privsep_own_dir(const char *dir, uid_t uid, gid_t gid, char *err, size_t err_size);

#endif
