/* privsep: giving up root after binding ports and reading keys. */
#include "core/privsep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

int privsep_lookup(const char *user, uid_t *uid_r, gid_t *gid_r, char *err, size_t err_size)
{
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, err_size,
			 "run_user \"%s\" does not exist: create it (useradd --system --no-create-home %s) "
			 "or set run_user in the config",
			 user, user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, err_size, "run_user \"%s\" is root: choose an unprivileged user", user);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}

void privsep_drop(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) < 0)
		fatal("setgroups");
	if (setresgid(gid, gid, gid) < 0)
		fatal("setresgid");
	if (setresuid(uid, uid, uid) < 0)
		fatal("setresuid");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (setuid(0) == 0 || seteuid(0) == 0)
		fatalx("privileges were not dropped: setuid(0) still works");
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		log_warn("prctl(PR_SET_DUMPABLE)");
}

int privsep_own_dir(const char *dir, uid_t uid, gid_t gid, char *err, size_t err_size)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, err_size, "data_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		snprintf(err, err_size, "data_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fchown(dfd, uid, gid) < 0) {
		snprintf(err, err_size, "data_dir %s: chown: %s", dir, strerror(errno));
		close(dfd);
		return -1;
	}
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return 0;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (fchownat(dfd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			log_warn("chown %s/%s", dir, e->d_name);
	}
	closedir(d);
	return 0;
}
