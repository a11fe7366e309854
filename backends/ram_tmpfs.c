/* SPDX-License-Identifier: MIT */
/*
 * The ram backend's tmpfs store: a volume's files in a tmpfs instance of
 * its own, made with fsopen() and fsmount() and never attached to any mount
 * tree.  Only the volfs process serving the volume can reach it, through
 * the descriptor of its root that the volume keeps, and the kernel frees it
 * with that descriptor: the data lives exactly as long as the volume is
 * open in that process, as with the daemon store.
 *
 * The kernel then keeps the files: a write past size= fails with ENOSPC
 * when it is made, holes cost nothing, and memory is the page cache's.
 * Each file being a real one, the core may hand open files to the kernel
 * (FUSE passthrough), so reads and writes go to tmpfs without a trip
 * through the daemon, and pages are charged to the memory cgroup of the
 * writer, not the daemon's.  The tree is served by the local backend's ops
 * over the root.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#ifdef HAVE_FSOPEN
#include <sys/mount.h>
#endif

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "local.h"
#include "ram.h"

/*
 * The local ops keep the tree; the size limit is the kernel's, met at
 * each write, so the core must not gather writes in its page cache first.
 * Nothing survives the process.
 */
#define RAM_TMPFS_CAPS (VOLFS_LOCAL_TREE_CAPS | VOLFS_CAP_SIZE_LIMIT)
/*
 * One inode per this many bytes of size=, about what the kernel spends on
 * one, so that metadata cannot grow far past the size either.
 */
#define RAM_TMPFS_INODE_BYTES 1024
#define RAM_TMPFS_INODES_MIN 64
#define RAM_TMPFS_PAGE ((uint64_t)4096)

static struct volfs_backend ram_tmpfs_table;
static pthread_once_t ram_tmpfs_once = PTHREAD_ONCE_INIT;

static void ram_tmpfs_table_init(void)
{
	const struct volfs_backend *ram = volfs_backend_ram();

	ram_tmpfs_table = *volfs_backend_local();
	ram_tmpfs_table.name = ram->name;
	ram_tmpfs_table.description = ram->description;
	ram_tmpfs_table.options = ram->options;
	ram_tmpfs_table.caps = RAM_TMPFS_CAPS;
	/* Ops on volumes not open (or to open) are ram's own, so that this
	 * table is as good as ram's for whoever holds it. */
	ram_tmpfs_table.validate = ram->validate;
	ram_tmpfs_table.create = ram->create;
	ram_tmpfs_table.destroy = ram->destroy;
	ram_tmpfs_table.open = ram->open;
	ram_tmpfs_table.open_as = ram->open_as;
}

#ifdef HAVE_FSOPEN
/* One fsconfig() setting of a number, in octal or decimal; 0 or -errno. */
static int ram_tmpfs_set(int fsfd, const char *key, int octal,
			 unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), octal ? "%llo" : "%llu", v);
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, buf, 0) < 0)
		return -errno;
	return 0;
}

/*
 * The root descriptor of a new detached tmpfs instance, or -errno.  Its
 * size is whole pages, never more than size=.
 */
static int ram_tmpfs_make(const struct volfs_ram_tmpfs *t, const char **what)
{
	uint64_t inodes = t->size / RAM_TMPFS_INODE_BYTES;
	int fsfd, mfd, rc;

	if (inodes < RAM_TMPFS_INODES_MIN)
		inodes = RAM_TMPFS_INODES_MIN;
	*what = "fsopen";
	fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	*what = "fsconfig";
	rc = ram_tmpfs_set(fsfd, "size", 0, t->size & ~(RAM_TMPFS_PAGE - 1));
	if (!rc)
		rc = ram_tmpfs_set(fsfd, "nr_inodes", 0, inodes);
	if (!rc)
		rc = ram_tmpfs_set(fsfd, "mode", 1, t->mode);
	if (!rc)
		rc = ram_tmpfs_set(fsfd, "uid", 0, t->uid);
	if (!rc)
		rc = ram_tmpfs_set(fsfd, "gid", 0, t->gid);
	if (!rc && fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		rc = -errno;
	if (rc)
		goto out;
	*what = "fsmount";
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC,
		      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	rc = mfd < 0 ? -errno : mfd;
out:
	close(fsfd);
	return rc;
}
#else
static int ram_tmpfs_make(const struct volfs_ram_tmpfs *t, const char **what)
{
	(void)t;
	*what = "fsopen";
	return -ENOSYS;
}
#endif

int volfs_ram_tmpfs_open(const struct volfs_volinfo *vi,
			 const struct volfs_ram_tmpfs *t, void **vol,
			 const struct volfs_backend **table, char *err,
			 size_t errlen)
{
	const char *what;
	int rootfd, rc;

	rootfd = ram_tmpfs_make(t, &what);
	if (rootfd < 0) {
		rc = rootfd;
		return volfs_be_errf(
			err, errlen, rc,
			"cannot make a tmpfs instance for volume '%s' "
			"(%s: %s)%s",
			vi->name, what, volfs_be_strerror(rc),
			rc == -EPERM || rc == -EACCES
				? ": only a volfs running as root (with "
				  "CAP_SYS_ADMIN) can"
			: rc == -ENOSYS
				? ": this kernel or C library has no fsopen()"
				: "");
	}
	rc = volfs_local_open_root(rootfd, RAM_TMPFS_CAPS, vol);
	if (rc) {
		close(rootfd);
		return volfs_be_errf(err, errlen, rc,
				     "cannot open volume '%s': out of memory",
				     vi->name);
	}
	pthread_once(&ram_tmpfs_once, ram_tmpfs_table_init);
	*table = &ram_tmpfs_table;
	if (vi->log)
		vi->log(VOLFS_LOG_DEBUG,
			"ram volume '%s': a tmpfs of %llu bytes, root mode "
			"%04o, owner %u:%u",
			vi->name, (unsigned long long)t->size,
			(unsigned)t->mode, (unsigned)t->uid, (unsigned)t->gid);
	return 0;
}
