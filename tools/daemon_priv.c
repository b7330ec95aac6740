/* SPDX-License-Identifier: MIT */
/*
 * daemon_priv.c: who may use lnmtd and what lnmtd may do. The socket goes to a dedicated group
 * (lnmt, made by tools/lnmt.sysusers, or --socket-group) with mode 0660; and lnmtd --user, after
 * root has opened what it needs, becomes an ordinary user that keeps CAP_NET_RAW only (raw
 * sockets and capture for sweeps): in its effective, permitted and bounding sets alike, with
 * no ambient or inheritable capabilities and no_new_privs set, so nothing it could ever exec
 * gains a privilege. libcap is not a dependency: the capset syscall takes two 32-bit words per
 * set, and prctl does the rest.
 */
#include "daemon.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the socket's group ---- */

int daemon_socket_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096];
	int rc = getgrnam_r(name ? name : DAEMON_SOCKET_GROUP, &gr, buf, sizeof(buf), &res);

	if (rc == 0 && res) {
		*gid = gr.gr_gid;
		return 0;
	}
	if (!name)
		return 1; /* no group lnmt here: the socket keeps lnmtd's own group */
	if (rc)
		snprintf(err, errlen, "--socket-group %s: cannot look the group up: %s", name, strerror(rc));
	else
		snprintf(err, errlen, "--socket-group %s: no such group (make it with groupadd, or see "
			 "tools/lnmt.sysusers)", name);
	return rc ? -rc : -ENOENT;
}

int daemon_socket_share(const char *path, const gid_t *gid, bool required, char *err, size_t errlen)
{
	if (gid && chown(path, (uid_t)-1, *gid) < 0) {
		int rc = -errno;
		struct group gr, *res = NULL;
		char buf[4096], name[64];
		if (getgrgid_r(*gid, &gr, buf, sizeof(buf), &res) == 0 && res)
			snprintf(name, sizeof(name), "%s", gr.gr_name);
		else
			snprintf(name, sizeof(name), "%u", (unsigned)*gid);
		snprintf(err, errlen, "cannot give %s to group %s: %s (lnmtd must start as root or be a member of it)",
			 path, name, strerror(-rc));
		if (required)
			return rc;
		daemon_log("%s; the socket stays in lnmtd's own group", err);
	}
	if (chmod(path, 0660) < 0) {
		int rc = -errno;
		snprintf(err, errlen, "chmod %s: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}

/* ---- lnmtd --user ---- */

static int chown_if_there(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (chown(path, uid, gid) == 0 || errno == ENOENT)
		return 0;
	int rc = -errno;
	snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
	return rc;
}

/* Empties the bounding set but for CAP_NET_RAW (needs CAP_SETPCAP: before leaving root). */
static int trim_bounding_set(char *err, size_t errlen)
{
	/* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability. */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (cap != CAP_NET_RAW && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
			int rc = -errno;
			snprintf(err, errlen, "prctl(PR_CAPBSET_DROP, %d): %s", cap, strerror(errno));
			return rc;
		}
	}
	return 0;
}

/* What the process holds now is CAP_NET_RAW alone, everywhere, and no way to more. */
static bool only_net_raw(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	const unsigned idx = CAP_TO_INDEX(CAP_NET_RAW), other = 1 - idx;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) || data[idx].effective != CAP_TO_MASK(CAP_NET_RAW) ||
	    data[idx].permitted != CAP_TO_MASK(CAP_NET_RAW) || data[idx].inheritable || data[other].effective ||
	    data[other].permitted || data[other].inheritable)
		return false;
	for (int cap = 0;; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (in < 0)
			break;
		if (in != (cap == CAP_NET_RAW))
			return false;
		/* Ambient capabilities: no such prctl before Linux 4.3 (then none exist). */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0)
			return false;
	}
	return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
}

int daemon_drop_privileges(const char *user, const char *db_dir, char *err, size_t errlen)
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
	/* The store was made by root: hand it over, so the user keeps using it (a reopen on
	 * SIGHUP). The socket stays root's: lnmtd holds it open and needs no access to the file,
	 * and other processes of that user (nobody, say) get none; its group decides who calls. */
	snprintf(path, sizeof(path), "%s/data.mdb", db_dir);
	if ((rc = chown_if_there(db_dir, pw.pw_uid, pw.pw_gid, err, errlen)) ||
	    (rc = chown_if_there(path, pw.pw_uid, pw.pw_gid, err, errlen)))
		return rc;
	snprintf(path, sizeof(path), "%s/lock.mdb", db_dir);
	if ((rc = chown_if_there(path, pw.pw_uid, pw.pw_gid, err, errlen)))
		return rc;
	snprintf(path, sizeof(path), "%s/%s", db_dir, STORE_LOCK_FILE);
	if ((rc = chown_if_there(path, pw.pw_uid, pw.pw_gid, err, errlen)))
		return rc;

	if ((rc = trim_bounding_set(err, errlen)))
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
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); /* EINVAL before 4.3: none to clear */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		rc = -errno;
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return rc;
	}

	/* Check what we got: exactly CAP_NET_RAW, and no way back to root. */
	if (!only_net_raw()) {
		snprintf(err, errlen, "capabilities are not CAP_NET_RAW alone after the switch");
		return -EPERM;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "could become root again after dropping privileges");
		return -EPERM;
	}
	return 0;
}
