/* SPDX-License-Identifier: MIT */
/*
 * daemon_priv.c: lnmtd --user: after root has opened what it needs, become an ordinary user
 * that keeps CAP_NET_RAW only (raw sockets and capture for sweeps) and nothing else. libcap is
 * not a dependency: the capset syscall takes two 32-bit words per set.
 */
#include "daemon.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int chown_if_there(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (chown(path, uid, gid) == 0 || errno == ENOENT)
		return 0;
	int rc = -errno;
	snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
	return rc;
}

int daemon_drop_privileges(const char *user, const char *db_dir, const char *socket_path, char *err,
			   size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096], path[600];
	int rc;

	if ((rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res)) || !res) {
		snprintf(err, errlen, "no user '%s'%s%s", user, rc ? ": " : "", rc ? strerror(rc) : "");
		return rc ? -rc : -ENOENT;
	}
	if (geteuid() != 0) {
		snprintf(err, errlen, "--user %s needs lnmtd to start as root (it runs as uid %u)", user, (unsigned)geteuid());
		return -EPERM;
	}
	/* The store and the socket were made by root: hand them over, so the user keeps using them
	 * (a reopen on SIGHUP, the socket's unlink at exit). */
	snprintf(path, sizeof(path), "%s/data.mdb", db_dir);
	if ((rc = chown_if_there(db_dir, pw.pw_uid, pw.pw_gid, err, errlen)) ||
	    (rc = chown_if_there(path, pw.pw_uid, pw.pw_gid, err, errlen)))
		return rc;
	snprintf(path, sizeof(path), "%s/lock.mdb", db_dir);
	if ((rc = chown_if_there(path, pw.pw_uid, pw.pw_gid, err, errlen)) ||
	    (rc = chown_if_there(socket_path, pw.pw_uid, pw.pw_gid, err, errlen)))
		return rc;
	snprintf(path, sizeof(path), "%s/%s", db_dir, STORE_LOCK_FILE);
	if ((rc = chown_if_there(path, pw.pw_uid, pw.pw_gid, err, errlen)))
		return rc;

	/* Keep the permitted set across setuid, then trim it to CAP_NET_RAW. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) {
		rc = -errno;
		snprintf(err, errlen, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
		return rc;
	}
	if (initgroups(pw.pw_name, pw.pw_gid) || setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) ||
	    setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid)) {
		rc = -errno;
		snprintf(err, errlen, "becoming %s (uid %u): %s", user, (unsigned)pw.pw_uid, strerror(errno));
		return rc;
	}
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	data[CAP_TO_INDEX(CAP_NET_RAW)].effective = CAP_TO_MASK(CAP_NET_RAW);
	data[CAP_TO_INDEX(CAP_NET_RAW)].permitted = CAP_TO_MASK(CAP_NET_RAW);
	if (syscall(SYS_capset, &hdr, data)) {
		rc = -errno;
		snprintf(err, errlen, "capset(CAP_NET_RAW): %s", strerror(errno));
		return rc;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);

	/* Check what we got: exactly CAP_NET_RAW, and no way back to root. */
	memset(data, 0, sizeof(data));
	hdr = (struct __user_cap_header_struct){ .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	if (syscall(SYS_capget, &hdr, data) || data[0].effective != CAP_TO_MASK(CAP_NET_RAW) || data[1].effective ||
	    data[0].permitted != CAP_TO_MASK(CAP_NET_RAW) || data[1].permitted) {
		snprintf(err, errlen, "capabilities are not CAP_NET_RAW alone after the switch");
		return -EPERM;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "could become root again after dropping privileges");
		return -EPERM;
	}
	return 0;
}
