/* SPDX-License-Identifier: MIT */
/*
 * Backend conformance: the same checks against every backend module, called
 * through the ABI table with no FUSE mount.
 *
 * The suite runs once per configuration: every NAME.so in VOLFS_BACKEND_DIR
 * with no options, plus the extra configurations of conf_extras below (for
 * the backends that are present).  Each configuration gets a fresh state
 * directory and one volume, created and opened in the group setup, closed
 * and destroyed in the group teardown.  A check that needs a capability or
 * an op the backend lacks is skipped and says why.
 *
 * Files are known to a backend by node.  Most checks still name files by
 * path for readability: the conf_path_* helpers walk a path from the root
 * with one lookup() per component, as the kernel does, and give every
 * reference back.  The suite counts the references it holds (conf_took,
 * conf_forget_node): a check fails when it ends with one still held, and a
 * volume is closed only once all were given back.  While counting, it also
 * checks the identity rules of backend.h on every entry a backend hands
 * over: never the root, and where st_ino tells files apart (STABLE_INO),
 * one node per file and one file per node while held.
 *
 * Some checks make links that point out of the volume, always at a decoy
 * directory of the suite's own, never at a system path.  They are removed
 * before any volume is destroyed, so a destroy() that wrongly follows links
 * can at worst reach the decoy.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "volfs/backend.h"
#include "volfs/loader.h"
#include "volfs/util.h"

#define CONF_MAX 32
#define CONF_MAX_OPTS 8
#define CONF_LIST_MAX 64
#define CONF_THREADS 16
#define CONF_GIB (1LL << 30)
#define CONF_OTHER_UID 1000
#define CONF_OTHER_GID 1000
#define CONF_ROOT VOLFS_ROOT_NODE

/* Where an extra configuration's option value comes from. */
struct conf_optsrc {
	const char *key;
	/* "@host": a fresh host directory made by the suite; "$NAME": the
	 * environment variable NAME (unset: the configuration is skipped);
	 * anything else: the value itself. */
	const char *value;
};

/* What a backend cannot report or store, so checks of it are skipped. */
enum {
	/* st_blocks is not the space allocated (SMB clients see size/512). */
	CONF_NO_BLOCKS = 1u << 0,
	/* The storage refuses long paths (Samba: about 4.3 KB). */
	CONF_SHORT_PATHS = 1u << 1,
};

/* A configuration beyond "no options", for the backend named. */
struct conf_extra {
	const char *backend;
	const char *label;
	struct conf_optsrc opts[CONF_MAX_OPTS];
	unsigned quirks;
};

static const struct conf_extra conf_extras[] = {
	{
		.backend = "local",
		.label = "local path=HOSTDIR",
		.opts = { { .key = "path", .value = "@host" } },
	},
	{
		.backend = "ram",
		.label = "ram store=daemon size=32m mode=0750 uid=1000 gid=1000",
		.opts = { { .key = "store", .value = "daemon" },
			  { .key = "size", .value = "32m" },
			  { .key = "mode", .value = "0750" },
			  { .key = "uid", .value = "1000" },
			  { .key = "gid", .value = "1000" } },
	},
	{
		.backend = "ram",
		.label = "ram size=32m mode=0750 uid=1000 gid=1000",
		.opts = { { .key = "size", .value = "32m" },
			  { .key = "mode", .value = "0750" },
			  { .key = "uid", .value = "1000" },
			  { .key = "gid", .value = "1000" } },
	},
	{
		/* The staging layer over a host directory: every check
		 * through the data cache, the uploader and the path
		 * adapter, with no server. */
		.backend = "dirstore",
		.label = "dirstore path=HOSTDIR upload_delay=0 cache_ttl=0",
		.opts = { { .key = "path", .value = "@host" },
			  { .key = "upload_delay", .value = "0" },
			  { .key = "cache_ttl", .value = "0" } },
		/* Paths are built whole for the store, as for smb. */
		.quirks = CONF_SHORT_PATHS,
	},
	{
		/* A real smbd: test/integration/t60-smb-conformance.sh
		 * starts one and sets these. */
		.backend = "smb",
		.label = "smb (a local smbd)",
		.opts = { { .key = "share", .value = "$VOLFS_TEST_SMB_SHARE" },
			  { .key = "username", .value = "$VOLFS_TEST_SMB_USER" },
			  { .key = "password", .value = "$VOLFS_TEST_SMB_PASS" },
			  { .key = "timeout", .value = "10" } },
		.quirks = CONF_NO_BLOCKS | CONF_SHORT_PATHS,
	},
};

struct conf_config {
	/* The table serving the volume, and the module's own (they differ
	 * where open_as() hands the volume to another table). */
	const struct volfs_backend *be;
	const struct volfs_backend *module;
	char label[128];
	struct volfs_kv opts[CONF_MAX_OPTS];
	size_t nopts;
	/* This configuration's scratch directory. */
	char dir[PATH_MAX];
	char state_dir[PATH_MAX];
	/* The host directory behind the volume when the suite made one (the
	 * storage seen from the host side), else "". */
	char hostdir[PATH_MAX];
	char name[32];
	struct volfs_volinfo vi;
	void *vol;
	unsigned caps;
	unsigned quirks;
};

static struct conf_config conf_configs[CONF_MAX];
static size_t conf_count;
static struct conf_config *conf_cur;
/* The temp base directory, and a directory outside every volume that
 * escape attempts aim at. */
static char conf_base[PATH_MAX];
static char conf_decoy[PATH_MAX];

/* ---- helpers ---- */

static void conf_check(long long got, long long want, const char *expr,
		       const char *file, int line)
{
	if (got == want)
		return;
	print_error("%s returned %lld (%s), expected %lld (%s)\n", expr, got,
		    got < 0 ? strerror((int)-got) : "ok", want,
		    want < 0 ? strerror((int)-want) : "ok");
	_fail(file, line);
}

static void conf_check_fails(long long got, const char *expr,
			     const char *file, int line)
{
	if (got < 0)
		return;
	print_error("%s returned %lld but must fail\n", expr, got);
	_fail(file, line);
}

/* expr must return want (0, a count or -errno). */
#define conf_expect(expr, want) \
	conf_check((long long)(expr), (long long)(want), #expr, __FILE__, \
		   __LINE__)
/* expr must fail with some -errno. */
#define conf_expect_fail(expr) \
	conf_check_fails((long long)(expr), #expr, __FILE__, __LINE__)
/* Calls an op, or answers -ENOTSUP for a NULL one as the core does. */
#define conf_op(op, ...)                                              \
	(conf_cur->be->op ? (long long)conf_cur->be->op(__VA_ARGS__) \
			  : (long long)-ENOTSUP)

static void conf_need_cap(unsigned cap, const char *name)
{
	if (conf_cur->caps & cap)
		return;
	print_message("      skipped: backend '%s' lacks %s\n",
		      conf_cur->be->name, name);
	skip();
}

static void conf_need_op(int present, const char *name)
{
	if (present)
		return;
	print_message("      skipped: backend '%s' has no %s op\n",
		      conf_cur->be->name, name);
	skip();
}

static void conf_need_root(void)
{
	if (geteuid() == 0)
		return;
	print_message("      skipped: needs root to change ownership\n");
	skip();
}

/* Whether file modes are stored, so a mode given is the mode shown. */
static int conf_stores_modes(void)
{
	return (conf_cur->caps & VOLFS_CAP_OWNERSHIP) || conf_cur->be->chmod;
}

static struct volfs_caller conf_me(void)
{
	struct volfs_caller me = {
		.uid = geteuid(),
		.gid = getegid(),
		.pid = getpid(),
	};

	return me;
}

/* ---- references ---- */

/* A node the suite holds references to. */
struct conf_ref {
	void *vol;
	uint64_t node;
	uint64_t n;
	/* The file's st_ino when it was handed over. */
	ino_t ino;
};

/* Every reference held, on any volume; threads of a check share it. */
static struct conf_ref *conf_refs;
static size_t conf_nrefs, conf_refs_cap;
static pthread_mutex_t conf_refs_lock = PTHREAD_MUTEX_INITIALIZER;
/* The first breach of the identity rules since the check began. */
static char conf_refs_error[512];

static void conf_refs_breach(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Called with conf_refs_lock held. */
static void conf_refs_breach(const char *fmt, ...)
{
	va_list ap;

	if (conf_refs_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(conf_refs_error, sizeof(conf_refs_error), fmt, ap);
	va_end(ap);
}

/*
 * Counts the reference that came with e.  With STABLE_INO, st_ino tells
 * files apart: a node held must keep naming one file, and a file held must
 * keep one node.
 */
static void conf_took(void *vol, const struct volfs_entry *e)
{
	int stable = conf_cur->caps & VOLFS_CAP_STABLE_INO;
	struct conf_ref *r = NULL;

	pthread_mutex_lock(&conf_refs_lock);
	if (e->node == VOLFS_ROOT_NODE)
		conf_refs_breach("an entry was handed over as the root node, "
				 "which is never given with a reference");
	for (size_t i = 0; i < conf_nrefs; i++) {
		struct conf_ref *o = &conf_refs[i];

		if (o->vol != vol)
			continue;
		if (o->node == e->node)
			r = o;
		else if (stable && e->st.st_ino && o->ino == e->st.st_ino)
			conf_refs_breach("file st_ino %llu was handed over as "
					 "node %#llx and as node %#llx while "
					 "both were held",
					 (unsigned long long)o->ino,
					 (unsigned long long)o->node,
					 (unsigned long long)e->node);
	}
	if (r) {
		if (stable && r->ino != e->st.st_ino)
			conf_refs_breach("node %#llx named st_ino %llu and then "
					 "st_ino %llu while held",
					 (unsigned long long)r->node,
					 (unsigned long long)r->ino,
					 (unsigned long long)e->st.st_ino);
		r->n++;
		goto out;
	}
	if (conf_nrefs == conf_refs_cap) {
		size_t cap = conf_refs_cap ? 2 * conf_refs_cap : 256;
		struct conf_ref *grown;

		grown = realloc(conf_refs, cap * sizeof(*grown));
		if (!grown) {
			fprintf(stderr, "out of memory counting references\n");
			abort();
		}
		conf_refs = grown;
		conf_refs_cap = cap;
	}
	conf_refs[conf_nrefs++] = (struct conf_ref){
		.vol = vol,
		.node = e->node,
		.n = 1,
		.ino = e->st.st_ino,
	};
out:
	pthread_mutex_unlock(&conf_refs_lock);
}

/* Gives back n references to node (none for the root). */
static void conf_forget_n(void *vol, uint64_t node, uint64_t n)
{
	int held = 0;

	if (node == VOLFS_ROOT_NODE || n == 0)
		return;
	pthread_mutex_lock(&conf_refs_lock);
	for (size_t i = 0; i < conf_nrefs; i++) {
		struct conf_ref *r = &conf_refs[i];

		if (r->vol != vol || r->node != node)
			continue;
		if (r->n >= n) {
			held = 1;
			r->n -= n;
			if (r->n == 0)
				conf_refs[i] = conf_refs[--conf_nrefs];
		}
		break;
	}
	if (!held)
		conf_refs_breach("the suite gave back %llu references to node "
				 "%#llx, more than it held",
				 (unsigned long long)n,
				 (unsigned long long)node);
	pthread_mutex_unlock(&conf_refs_lock);
	if (held && conf_cur->be->forget)
		conf_cur->be->forget(vol, node, n);
}

static void conf_forget_node(void *vol, uint64_t node)
{
	conf_forget_n(vol, node, 1);
}

/*
 * Gives back every reference held on vol (every volume when vol is NULL),
 * as the core does when the kernel goes away; returns how many there were.
 */
static uint64_t conf_forget_all(void *vol)
{
	uint64_t total = 0;

	for (;;) {
		struct conf_ref r = { .n = 0 };

		pthread_mutex_lock(&conf_refs_lock);
		for (size_t i = 0; i < conf_nrefs; i++) {
			if (!vol || conf_refs[i].vol == vol) {
				r = conf_refs[i];
				break;
			}
		}
		pthread_mutex_unlock(&conf_refs_lock);
		if (r.n == 0)
			return total;
		total += r.n;
		conf_forget_n(r.vol, r.node, r.n);
	}
}

/* The check ends holding nothing, and no rule was broken. */
static void conf_expect_nothing_held(void)
{
	uint64_t held = 0;

	pthread_mutex_lock(&conf_refs_lock);
	for (size_t i = 0; i < conf_nrefs; i++)
		held += conf_refs[i].n;
	pthread_mutex_unlock(&conf_refs_lock);
	if (conf_refs_error[0])
		fail_msg("%s", conf_refs_error);
	if (held)
		fail_msg("the check ended holding %llu node references",
			 (unsigned long long)held);
}

/*
 * Closes vol of the current table.  A volume closes with no reference
 * held: those still held are given back first, and the check fails.
 */
static void conf_close(void *vol)
{
	uint64_t held = conf_forget_all(vol);

	conf_cur->be->close(vol);
	if (held)
		fail_msg("%llu node references were still held at close()",
			 (unsigned long long)held);
}

/* ---- ops that hand over a node, counted ---- */

static int conf_be_lookup(void *vol, uint64_t parent, const char *name,
			  struct volfs_entry *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	if (!conf_cur->be->lookup)
		return -ENOTSUP;
	rc = conf_cur->be->lookup(vol, parent, name, e);
	if (rc == 0)
		conf_took(vol, e);
	return rc;
}

static int conf_be_mkdir(void *vol, uint64_t parent, const char *name,
			 mode_t mode, const struct volfs_caller *who,
			 struct volfs_entry *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	if (!conf_cur->be->mkdir)
		return -ENOTSUP;
	rc = conf_cur->be->mkdir(vol, parent, name, mode, who, e);
	if (rc == 0)
		conf_took(vol, e);
	return rc;
}

static int conf_be_mknod(void *vol, uint64_t parent, const char *name,
			 mode_t mode, dev_t rdev, const struct volfs_caller *who,
			 struct volfs_entry *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	if (!conf_cur->be->mknod)
		return -ENOTSUP;
	rc = conf_cur->be->mknod(vol, parent, name, mode, rdev, who, e);
	if (rc == 0)
		conf_took(vol, e);
	return rc;
}

static int conf_be_symlink(void *vol, const char *target, uint64_t parent,
			   const char *name, const struct volfs_caller *who,
			   struct volfs_entry *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	if (!conf_cur->be->symlink)
		return -ENOTSUP;
	rc = conf_cur->be->symlink(vol, target, parent, name, who, e);
	if (rc == 0)
		conf_took(vol, e);
	return rc;
}

static int conf_be_link(void *vol, uint64_t node, uint64_t newparent,
			const char *newname, struct volfs_entry *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	if (!conf_cur->be->link)
		return -ENOTSUP;
	rc = conf_cur->be->link(vol, node, newparent, newname, e);
	if (rc == 0)
		conf_took(vol, e);
	return rc;
}

static int conf_be_create(void *vol, uint64_t parent, const char *name,
			  int flags, mode_t mode,
			  const struct volfs_caller *who, struct volfs_entry *e,
			  uint64_t *fh)
{
	int rc;

	memset(e, 0, sizeof(*e));
	*fh = VOLFS_NO_FH;
	if (!conf_cur->be->create_file)
		return -ENOTSUP;
	rc = conf_cur->be->create_file(vol, parent, name, flags, mode, who, e,
				       fh);
	if (rc == 0)
		conf_took(vol, e);
	return rc;
}

static int conf_be_decode(void *vol, const void *buf, size_t len,
			  struct volfs_entry *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	if (!conf_cur->be->node_decode)
		return -ENOTSUP;
	rc = conf_cur->be->node_decode(vol, buf, len, e);
	if (rc == 0)
		conf_took(vol, e);
	return rc;
}

/* ---- paths ---- */

/*
 * Finds path ("." or "a/b/c") from the root with one lookup() per
 * component, giving back each directory's reference once the next
 * component is found, as the kernel walks a path.  *node is the file, with
 * one reference (the root without one).  Returns 0, or the failing
 * lookup's -errno with nothing held.
 */
static int conf_walk(void *vol, const char *path, uint64_t *node)
{
	uint64_t cur = CONF_ROOT;
	char name[NAME_MAX + 1];
	struct volfs_entry e;
	const char *p = path;
	int rc;

	if (strcmp(path, ".") == 0) {
		*node = CONF_ROOT;
		return 0;
	}
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 0 || len > NAME_MAX) {
			fprintf(stderr, "bad path in the suite: %s\n", path);
			abort();
		}
		memcpy(name, p, len);
		name[len] = '\0';
		rc = conf_be_lookup(vol, cur, name, &e);
		conf_forget_node(vol, cur);
		if (rc < 0)
			return rc;
		cur = e.node;
		if (!slash)
			break;
		p = slash + 1;
	}
	*node = cur;
	return 0;
}

/*
 * Finds the directory of path and copies its last component into name:
 * *parent has one reference (none for the root).  0 or -errno.
 */
static int conf_walk_parent(void *vol, const char *path, uint64_t *parent,
			    char name[NAME_MAX + 1])
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int rc;

	if (!slash) {
		snprintf(name, NAME_MAX + 1, "%s", path);
		*parent = CONF_ROOT;
		return 0;
	}
	snprintf(name, NAME_MAX + 1, "%s", slash + 1);
	dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	rc = conf_walk(vol, dir, parent);
	free(dir);
	return rc;
}

/*
 * Calls op on the file at path, with the arguments that follow its node;
 * the walk's -errno, -ENOTSUP for a NULL op, or what op returned.
 */
#define conf_path_op(op, vol, path, ...)                                     \
	({                                                                   \
		void *conf_v_ = (vol);                                      \
		uint64_t conf_n_ = CONF_ROOT;                                \
		long long conf_rc_ = conf_walk(conf_v_, (path), &conf_n_);   \
		if (conf_rc_ == 0) {                                         \
			conf_rc_ = conf_op(op, conf_v_, conf_n_,             \
					   __VA_ARGS__);                     \
			conf_forget_node(conf_v_, conf_n_);                  \
		}                                                            \
		conf_rc_;                                                    \
	})

/* Calls op (unlink, rmdir) with the directory of path and its name. */
#define conf_path_name_op(op, vol, path)                                     \
	({                                                                   \
		void *conf_v_ = (vol);                                      \
		char conf_nm_[NAME_MAX + 1];                                 \
		uint64_t conf_p_ = CONF_ROOT;                                \
		long long conf_rc_ =                                         \
			conf_walk_parent(conf_v_, (path), &conf_p_, conf_nm_); \
		if (conf_rc_ == 0) {                                         \
			conf_rc_ = conf_op(op, conf_v_, conf_p_, conf_nm_);  \
			conf_forget_node(conf_v_, conf_p_);                  \
		}                                                            \
		conf_rc_;                                                    \
	})

static long long conf_path_unlink(void *vol, const char *path)
{
	return conf_path_name_op(unlink, vol, path);
}

static long long conf_path_rmdir(void *vol, const char *path)
{
	return conf_path_name_op(rmdir, vol, path);
}

/* What makes a name at path, given the parent and the last component. */
enum conf_make { CONF_MKDIR, CONF_SYMLINK, CONF_MKNOD };

static long long conf_path_make(void *vol, enum conf_make what,
				const char *path, const char *target,
				mode_t mode, dev_t rdev,
				const struct volfs_caller *who)
{
	char name[NAME_MAX + 1];
	struct volfs_entry e;
	uint64_t parent;
	long long rc;

	rc = conf_walk_parent(vol, path, &parent, name);
	if (rc < 0)
		return rc;
	if (what == CONF_MKDIR)
		rc = conf_be_mkdir(vol, parent, name, mode, who, &e);
	else if (what == CONF_SYMLINK)
		rc = conf_be_symlink(vol, target, parent, name, who, &e);
	else
		rc = conf_be_mknod(vol, parent, name, mode, rdev, who, &e);
	if (rc == 0)
		conf_forget_node(vol, e.node);
	conf_forget_node(vol, parent);
	return rc;
}

static long long conf_path_mkdir(void *vol, const char *path, mode_t mode,
				 const struct volfs_caller *who)
{
	return conf_path_make(vol, CONF_MKDIR, path, NULL, mode, 0, who);
}

static long long conf_path_symlink(void *vol, const char *target,
				   const char *path,
				   const struct volfs_caller *who)
{
	return conf_path_make(vol, CONF_SYMLINK, path, target, 0, 0, who);
}

static long long conf_path_mknod(void *vol, const char *path, mode_t mode,
				 dev_t rdev, const struct volfs_caller *who)
{
	return conf_path_make(vol, CONF_MKNOD, path, NULL, mode, rdev, who);
}

/* Makes to a hard link to the file at from. */
static long long conf_path_link(void *vol, const char *from, const char *to)
{
	char name[NAME_MAX + 1];
	struct volfs_entry e;
	uint64_t node, parent;
	long long rc;

	rc = conf_walk(vol, from, &node);
	if (rc < 0)
		return rc;
	rc = conf_walk_parent(vol, to, &parent, name);
	if (rc == 0) {
		rc = conf_be_link(vol, node, parent, name, &e);
		if (rc == 0)
			conf_forget_node(vol, e.node);
		conf_forget_node(vol, parent);
	}
	conf_forget_node(vol, node);
	return rc;
}

static long long conf_path_rename(void *vol, const char *from,
				  const char *to, unsigned flags)
{
	char name[NAME_MAX + 1], newname[NAME_MAX + 1];
	uint64_t parent, newparent;
	long long rc;

	rc = conf_walk_parent(vol, from, &parent, name);
	if (rc < 0)
		return rc;
	rc = conf_walk_parent(vol, to, &newparent, newname);
	if (rc == 0) {
		rc = conf_op(rename, vol, parent, name, newparent, newname,
			     flags);
		conf_forget_node(vol, newparent);
	}
	conf_forget_node(vol, parent);
	return rc;
}

/* create_file() at path with flags as given (O_CREAT is added). */
static long long conf_path_create(void *vol, const char *path, int flags,
				  mode_t mode, const struct volfs_caller *who,
				  uint64_t *fh)
{
	char name[NAME_MAX + 1];
	struct volfs_entry e;
	uint64_t parent;
	long long rc;

	*fh = VOLFS_NO_FH;
	rc = conf_walk_parent(vol, path, &parent, name);
	if (rc < 0)
		return rc;
	rc = conf_be_create(vol, parent, name, flags | O_CREAT, mode, who, &e,
			    fh);
	if (rc == 0)
		conf_forget_node(vol, e.node);
	conf_forget_node(vol, parent);
	return rc;
}

/* open_file() of the file at path; its node is given back at once, as a
 * handle holds its file by itself. */
static long long conf_path_open(void *vol, const char *path, int flags,
				uint64_t *fh)
{
	*fh = VOLFS_NO_FH;
	return conf_path_op(open_file, vol, path, flags, fh);
}

/*
 * Creates path (O_EXCL) and opens it with flags; returns the handle, and
 * the node with its reference in *node unless node is NULL.
 */
static uint64_t conf_create_node(void *vol, const char *path, int flags,
				 mode_t mode, uint64_t *node)
{
	struct volfs_caller me = conf_me();
	char name[NAME_MAX + 1];
	struct volfs_entry e;
	uint64_t parent, fh = VOLFS_NO_FH;

	conf_need_op(conf_cur->be->create_file != NULL, "create_file");
	conf_expect(conf_walk_parent(vol, path, &parent, name), 0);
	conf_expect(conf_be_create(vol, parent, name, flags | O_CREAT | O_EXCL,
				   mode, &me, &e, &fh),
		    0);
	conf_forget_node(vol, parent);
	if (node)
		*node = e.node;
	else
		conf_forget_node(vol, e.node);
	return fh;
}

static uint64_t conf_create(void *vol, const char *path, int flags,
			    mode_t mode)
{
	return conf_create_node(vol, path, flags, mode, NULL);
}

static uint64_t conf_open(void *vol, const char *path, int flags)
{
	uint64_t fh = VOLFS_NO_FH;

	conf_expect(conf_path_open(vol, path, flags, &fh), 0);
	return fh;
}

static uint64_t conf_open_node(void *vol, uint64_t node, int flags)
{
	uint64_t fh = VOLFS_NO_FH;

	conf_expect(conf_op(open_file, vol, node, flags, &fh), 0);
	return fh;
}

/* The node at path, with one reference (the root without one). */
static uint64_t conf_node(void *vol, const char *path)
{
	uint64_t node = CONF_ROOT;

	conf_expect(conf_walk(vol, path, &node), 0);
	return node;
}

static void conf_release(void *vol, uint64_t fh)
{
	if (conf_cur->be->release)
		conf_expect(conf_cur->be->release(vol, fh), 0);
}

/* Reads through the read op, or the real fd when the backend has no op. */
static ssize_t conf_pread(void *vol, uint64_t fh, void *buf, size_t size,
			  off_t off)
{
	const struct volfs_backend *be = conf_cur->be;
	ssize_t n;

	if (be->read)
		return be->read(vol, fh, buf, size, off);
	if (!(conf_cur->caps & VOLFS_CAP_REAL_FD) || !be->fd)
		return -ENOTSUP;
	n = pread(be->fd(vol, fh), buf, size, off);
	return n < 0 ? -errno : n;
}

static ssize_t conf_pwrite(void *vol, uint64_t fh, const void *buf,
			   size_t size, off_t off)
{
	const struct volfs_backend *be = conf_cur->be;
	ssize_t n;

	if (be->write)
		return be->write(vol, fh, buf, size, off);
	if (!(conf_cur->caps & VOLFS_CAP_REAL_FD) || !be->fd)
		return -ENOTSUP;
	n = pwrite(be->fd(vol, fh), buf, size, off);
	return n < 0 ? -errno : n;
}

/* Creates path holding data. */
static void conf_put(void *vol, const char *path, const char *data)
{
	uint64_t fh = conf_create(vol, path, O_WRONLY, 0644);
	size_t len = strlen(data);

	conf_expect(conf_pwrite(vol, fh, data, len, 0), len);
	conf_release(vol, fh);
}

/* fsync()s path, so that its data is on the storage behind the volume. */
static void conf_sync(void *vol, const char *path)
{
	uint64_t fh = conf_open(vol, path, O_RDONLY);

	if (conf_cur->be->fsync)
		conf_expect(conf_cur->be->fsync(vol, fh, 0), 0);
	conf_release(vol, fh);
}

/* Creates name in directory parent holding data. */
static void conf_put_at(void *vol, uint64_t parent, const char *name,
			const char *data)
{
	struct volfs_caller me = conf_me();
	struct volfs_entry e;
	size_t len = strlen(data);
	uint64_t fh;

	conf_expect(conf_be_create(vol, parent, name,
				   O_WRONLY | O_CREAT | O_EXCL, 0644, &me, &e,
				   &fh),
		    0);
	conf_expect(conf_pwrite(vol, fh, data, len, 0), len);
	conf_release(vol, fh);
	conf_forget_node(vol, e.node);
}

/* Checks that the file open as fh holds exactly data. */
static void conf_fh_has_data(void *vol, uint64_t fh, const char *data)
{
	size_t len = strlen(data);
	char buf[256];

	assert_true(len < sizeof(buf));
	conf_expect(conf_pread(vol, fh, buf, sizeof(buf), 0), len);
	assert_memory_equal(buf, data, len);
}

/* Checks that node holds exactly data, through a handle of its own. */
static void conf_node_has_data(void *vol, uint64_t node, const char *data)
{
	uint64_t fh = conf_open_node(vol, node, O_RDONLY);

	conf_fh_has_data(vol, fh, data);
	conf_release(vol, fh);
}

/* Checks that path holds exactly data. */
static void conf_has_data(void *vol, const char *path, const char *data)
{
	uint64_t fh = conf_open(vol, path, O_RDONLY);

	conf_fh_has_data(vol, fh, data);
	conf_release(vol, fh);
}

static void conf_node_stat(void *vol, uint64_t node, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	conf_expect(conf_op(getattr, vol, node, VOLFS_NO_FH, st), 0);
}

static void conf_stat(void *vol, const char *path, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	conf_expect(conf_path_op(getattr, vol, path, VOLFS_NO_FH, st), 0);
}

/* A directory listing, as fill sees it. */
struct conf_listent {
	char name[NAME_MAX + 1];
	mode_t type;
	ino_t ino;
	off_t next;
	/* Its place among all the entries taken, "." and ".." included. */
	int seq;
	/* With plus: the node handed over, held until the list is freed. */
	uint64_t node;
	int has_node;
	struct stat st;
};

struct conf_list {
	/* The volume the entries' references are of. */
	void *vol;
	/* Entries it can hold, "." and ".." aside. */
	int cap;
	/* Entries held, "." and ".." aside; "." and ".." seen. */
	int n;
	int dots;
	/* Entries taken, "." and ".." included. */
	int total;
	/* Entries one readdir() call may give (0: any), as a buffer of the
	 * kernel's would hold; how many this call gave; whether fill said
	 * it had no room. */
	int room;
	int taken;
	int refused;
	/* The position after the last entry taken. */
	off_t next;
	/* What was wrong with an entry, if anything. */
	char bad[512];
	struct conf_listent *ents;
};

static struct conf_list *conf_list_new(void *vol, int cap)
{
	struct conf_list *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->ents = calloc((size_t)cap, sizeof(*l->ents));
	assert_non_null(l->ents);
	l->vol = vol;
	l->cap = cap;
	return l;
}

/* Gives back the references the entries came with and empties l. */
static void conf_list_clear(struct conf_list *l)
{
	for (int i = 0; i < l->n; i++)
		if (l->ents[i].has_node)
			conf_forget_node(l->vol, l->ents[i].node);
	memset(l->ents, 0, (size_t)l->cap * sizeof(*l->ents));
	l->n = 0;
	l->dots = 0;
	l->total = 0;
	l->taken = 0;
	l->refused = 0;
	l->next = 0;
	l->bad[0] = '\0';
}

static void conf_list_free(struct conf_list *l)
{
	conf_list_clear(l);
	free(l->ents);
	free(l);
}

static int conf_fill(void *ctx, const char *name, mode_t type, ino_t ino,
		     off_t next, struct volfs_entry *e)
{
	struct conf_list *l = ctx;
	int dot = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
	struct conf_listent *ent;

	if (l->bad[0] || (l->room && l->taken >= l->room) ||
	    (!dot && l->n >= l->cap)) {
		if (!l->bad[0] && !dot && l->n >= l->cap)
			snprintf(l->bad, sizeof(l->bad),
				 "more than %d entries", l->cap);
		l->refused = 1;
		return 1;
	}
	if (next <= 0)
		snprintf(l->bad, sizeof(l->bad),
			 "entry '%s' has position %lld", name,
			 (long long)next);
	if (dot && e)
		snprintf(l->bad, sizeof(l->bad),
			 "'%s' came with an entry (a reference)", name);
	if (e && type && (e->st.st_mode & S_IFMT) != type)
		snprintf(l->bad, sizeof(l->bad),
			 "entry '%s' is listed with type %o but its "
			 "attributes say %o",
			 name, (unsigned)type,
			 (unsigned)(e->st.st_mode & S_IFMT));
	l->taken++;
	l->total++;
	l->next = next;
	if (dot) {
		l->dots++;
		return 0;
	}
	if (e)
		conf_took(l->vol, e);
	ent = &l->ents[l->n++];
	snprintf(ent->name, sizeof(ent->name), "%s", name);
	ent->type = type;
	ent->ino = ino;
	ent->next = next;
	ent->seq = l->total - 1;
	if (e) {
		ent->node = e->node;
		ent->has_node = 1;
		ent->st = e->st;
	}
	return 0;
}

/*
 * Lists dh from position off to the end, at most l->room entries a call,
 * each call going on from the position after the last entry taken.  Every
 * entry but "." and ".." must come with a reference with plus, and without
 * one otherwise.  0 or the -errno of readdir().
 */
static int conf_list_dh(void *vol, uint64_t dh, off_t off, int plus,
			struct conf_list *l)
{
	int before, rc;

	for (;;) {
		before = l->n;
		l->taken = 0;
		l->refused = 0;
		rc = conf_cur->be->readdir(vol, dh, off, plus, conf_fill, l);
		if (rc < 0 || l->bad[0])
			return rc;
		for (int i = before; i < l->n; i++)
			if (l->ents[i].has_node != !!plus)
				snprintf(l->bad, sizeof(l->bad),
					 "entry '%s' came %s a reference "
					 "from readdir %s plus",
					 l->ents[i].name,
					 plus ? "without" : "with",
					 plus ? "with" : "without");
		if (!l->refused || l->bad[0])
			return 0;
		if (l->taken == 0) {
			snprintf(l->bad, sizeof(l->bad),
				 "readdir() at %lld gave no entry", (long long)off);
			return 0;
		}
		off = l->next;
	}
}

/* Lists directory node through a handle of its own.  0 or -errno. */
static long long conf_node_list(void *vol, uint64_t node, int plus,
				struct conf_list *l)
{
	const struct volfs_backend *be = conf_cur->be;
	uint64_t dh;
	long long rc;

	if (!be->opendir || !be->readdir)
		return -ENOTSUP;
	rc = be->opendir(vol, node, &dh);
	if (rc < 0)
		return rc;
	rc = conf_list_dh(vol, dh, 0, plus, l);
	if (be->releasedir)
		be->releasedir(vol, dh);
	return rc;
}

/*
 * Lists the directory at path through a handle of its own, its node given
 * back as soon as the handle is open (a handle holds its directory by
 * itself).  0 or -errno.
 */
static long long conf_path_list(void *vol, const char *path, int plus,
				struct conf_list *l)
{
	const struct volfs_backend *be = conf_cur->be;
	uint64_t node, dh;
	long long rc;

	if (!be->opendir || !be->readdir)
		return -ENOTSUP;
	rc = conf_walk(vol, path, &node);
	if (rc < 0)
		return rc;
	rc = be->opendir(vol, node, &dh);
	conf_forget_node(vol, node);
	if (rc < 0)
		return rc;
	rc = conf_list_dh(vol, dh, 0, plus, l);
	if (be->releasedir)
		be->releasedir(vol, dh);
	return rc;
}

/* The index of name in l, -1 when not listed. */
static int conf_list_find(const struct conf_list *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->ents[i].name, name) == 0)
			return i;
	return -1;
}

/* The type listed for name, 0 for "unknown", -1 when not listed. */
static long conf_listed(const struct conf_list *l, const char *name)
{
	int i = conf_list_find(l, name);

	return i < 0 ? -1 : (long)l->ents[i].type;
}

/* How many times name is listed. */
static int conf_list_count(const struct conf_list *l, const char *name)
{
	int n = 0;

	for (int i = 0; i < l->n; i++)
		n += strcmp(l->ents[i].name, name) == 0;
	return n;
}

static void conf_list_ok(const struct conf_list *l)
{
	if (l->bad[0])
		fail_msg("readdir: %s", l->bad);
}

/* Host-side helpers, for files the suite makes outside any volume. */
static void conf_host_put(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), strlen(data));
	close(fd);
}

static void conf_host_has(const char *path, const char *data)
{
	char buf[256];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("host file %s is gone: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, strlen(data));
	assert_memory_equal(buf, data, strlen(data));
}

/* dir/name into buf, which is big enough for any path the suite makes. */
static void conf_join(char *buf, size_t size, const char *dir,
		      const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "path too long: %s/%s\n", dir, name);
		abort();
	}
}

/* ---- configurations ---- */

static int conf_add(const struct volfs_backend *be, const char *label)
{
	char name[32], dir[PATH_MAX];
	struct conf_config *c;

	if (conf_count >= CONF_MAX)
		return -ENOSPC;
	c = &conf_configs[conf_count];
	memset(c, 0, sizeof(*c));
	c->be = be;
	c->module = be;
	snprintf(c->label, sizeof(c->label), "%s", label);
	snprintf(name, sizeof(name), "conf%zu", conf_count);
	snprintf(c->name, sizeof(c->name), "%s", name);
	conf_join(dir, sizeof(dir), conf_base, name);
	memcpy(c->dir, dir, sizeof(c->dir));
	conf_join(c->state_dir, sizeof(c->state_dir), dir, "state");
	if (mkdir(c->dir, 0755) < 0 || mkdir(c->state_dir, 0755) < 0)
		return -errno;
	conf_count++;
	return 0;
}

static void conf_add_found(const struct volfs_backend *be, void *ctx)
{
	const struct volfs_optdesc *d;
	int rc;

	/* One that cannot work without options runs in its extras only. */
	for (d = be->options; d && d->key; d++)
		if (d->flags & VOLFS_OPT_REQUIRED) {
			printf("backend '%s' needs option '%s': checked only "
			       "in its configurations below\n",
			       be->name, d->key);
			return;
		}
	rc = conf_add(be, be->name);

	if (rc)
		fprintf(stderr, "cannot add configuration '%s': %s\n",
			be->name, strerror(-rc));
}

static void conf_add_extra(const struct conf_extra *x)
{
	const struct volfs_backend *be;
	struct volfs_err err = { "" };
	char host[PATH_MAX];
	struct conf_config *c;
	const char *val;
	int rc;

	if (volfs_backend_load(x->backend, &be, &err) < 0) {
		printf("configuration '%s' skipped: %s\n", x->label, err.msg);
		return;
	}
	for (size_t i = 0; i < CONF_MAX_OPTS && x->opts[i].key; i++) {
		val = x->opts[i].value;
		if (val[0] == '$' && !getenv(val + 1)) {
			printf("configuration '%s' skipped: %s is not set\n",
			       x->label, val + 1);
			return;
		}
	}
	rc = conf_add(be, x->label);
	if (rc) {
		fprintf(stderr, "cannot add configuration '%s': %s\n",
			x->label, strerror(-rc));
		return;
	}
	c = &conf_configs[conf_count - 1];
	c->quirks = x->quirks;
	for (size_t i = 0; i < CONF_MAX_OPTS && x->opts[i].key; i++) {
		val = x->opts[i].value;
		if (strcmp(val, "@host") == 0) {
			conf_join(host, sizeof(host), c->dir, "host");
			memcpy(c->hostdir, host, sizeof(c->hostdir));
			if (mkdir(c->hostdir, 0755) < 0)
				fprintf(stderr, "cannot make %s: %s\n",
					c->hostdir, strerror(errno));
			val = c->hostdir;
		} else if (val[0] == '$') {
			val = getenv(val + 1);
		}
		c->opts[c->nopts].key = x->opts[i].key;
		c->opts[c->nopts].value = val;
		c->nopts++;
	}
}

/*
 * open() of vi, or open_as() where the module has it; *table is the
 * module's table and becomes the one serving the volume.  0 or -errno.
 */
static int conf_volume_open(const struct volfs_backend **table,
			    const struct volfs_volinfo *vi, void **vol)
{
	const struct volfs_backend *be = *table;
	char err[1024] = "";
	int rc;

	if (be->open_as)
		rc = be->open_as(vi, vol, table, err, sizeof(err));
	else
		rc = be->open(vi, vol, err, sizeof(err));
	if (rc < 0)
		print_error("open() failed: %s (%s)\n", err, strerror(-rc));
	return rc;
}

/*
 * validate(), create() and open() for vi; 0 or the failing rc.  *table is
 * the module's table and becomes the one serving the volume (open_as()).
 */
static int conf_volume_up(const struct volfs_backend **table,
			  const struct volfs_volinfo *vi, void **vol)
{
	const struct volfs_backend *be = *table;
	char err[1024] = "";
	int rc;

	if (be->validate) {
		rc = be->validate(vi, err, sizeof(err));
		if (rc < 0) {
			print_error("validate() failed: %s (%s)\n", err,
				    strerror(-rc));
			return rc;
		}
	}
	if (be->create) {
		rc = be->create(vi, err, sizeof(err));
		if (rc < 0) {
			print_error("create() failed: %s (%s)\n", err,
				    strerror(-rc));
			return rc;
		}
	}
	rc = conf_volume_open(table, vi, vol);
	if (rc < 0 && be->destroy)
		be->destroy(vi, err, sizeof(err));
	return rc;
}

static int conf_volume_destroy(const struct volfs_backend *be,
			       const struct volfs_volinfo *vi)
{
	char err[1024] = "";
	int rc;

	if (!be->destroy)
		return 0;
	rc = be->destroy(vi, err, sizeof(err));
	if (rc < 0)
		print_error("destroy() failed: %s (%s)\n", err, strerror(-rc));
	return rc;
}

/*
 * A second volume of the current configuration's kind (the same options:
 * for a host directory or a share, the same storage), named name, with
 * state in the configuration's directory; served by the current table.
 */
static void *conf_second_up(struct volfs_volinfo *vi, char *sdir,
			    size_t sdirlen, const char *name)
{
	const struct volfs_backend *be = conf_cur->module;
	void *vol = NULL;

	conf_join(sdir, sdirlen, conf_cur->dir, name);
	assert_true(mkdir(sdir, 0755) == 0 || errno == EEXIST);
	*vi = conf_cur->vi;
	vi->name = name;
	vi->state_dir = sdir;
	conf_expect(conf_volume_up(&be, vi, &vol), 0);
	assert_ptr_equal(be, conf_cur->be);
	return vol;
}

static int conf_group_setup(void **state)
{
	struct conf_config *c = conf_cur;

	c->vi.name = c->name;
	c->vi.state_dir = c->state_dir;
	c->vi.opts = c->opts;
	c->vi.nopts = c->nopts;
	c->vi.log = volfs_log;
	if (conf_volume_up(&c->be, &c->vi, &c->vol) < 0)
		return -1;
	c->caps = c->be->volume_caps ? c->be->volume_caps(c->vol)
				     : c->be->caps;
	print_message("configuration '%s': backend '%s', caps 0x%x\n",
		      c->label, c->be->name, c->caps);
	return 0;
}

/*
 * The escape checks leave links pointing out of the volume, at the decoy.
 * They go before anything deletes the volume, so that a destroy() that
 * wrongly follows links cannot reach anything outside.  Returns -1 while
 * such a link is still there.
 */
static int conf_unlink_escapes(struct conf_config *c)
{
	static const char *const links[] = { "esc", "up", "esc2", "escd/l" };
	static const char *const host_links[] = { "hs", "deep/a", "rel" };
	char path[PATH_MAX];
	struct stat st;
	int rc = 0;

	for (size_t i = 0; c->vol && i < sizeof(links) / sizeof(links[0]);
	     i++) {
		conf_path_unlink(c->vol, links[i]);
		if (i < 2 && conf_path_op(getattr, c->vol, links[i],
					  VOLFS_NO_FH, &st) != -ENOENT)
			rc = -1;
	}
	for (size_t i = 0; c->hostdir[0] &&
			   i < sizeof(host_links) / sizeof(host_links[0]);
	     i++) {
		conf_join(path, sizeof(path), c->hostdir, host_links[i]);
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
		    unlink(path) < 0)
			rc = -1;
	}
	return rc;
}

/* Closes the configuration's volume, with every reference given back. */
static void conf_group_close(struct conf_config *c)
{
	uint64_t held;

	if (!c->vol)
		return;
	held = conf_forget_all(c->vol);
	if (held)
		print_error("%llu node references were still held at the "
			    "end\n",
			    (unsigned long long)held);
	if (c->be->close)
		c->be->close(c->vol);
	c->vol = NULL;
}

static int conf_group_teardown(void **state)
{
	struct conf_config *c = conf_cur;
	int rc = 0;

	if (conf_unlink_escapes(c) < 0) {
		print_error("links out of volume '%s' are still there: "
			    "not destroying it; delete %s by hand\n",
			    c->name, c->dir);
		conf_group_close(c);
		return -1;
	}
	conf_group_close(c);
	rc = conf_volume_destroy(c->be, &c->vi);
	volfs_rm_rf(c->dir);
	return rc < 0 ? -1 : 0;
}

/* A check, run by conf_run. */
struct conf_checkdef {
	const char *name;
	void (*fn)(void **state);
};

/* Runs a check; one that passes must have given back what it took. */
static void conf_run(void **state)
{
	const struct conf_checkdef *def = *state;

	def->fn(state);
	conf_expect_nothing_held();
}

static int conf_check_setup(void **state)
{
	conf_refs_error[0] = '\0';
	return 0;
}

/* After a check failed or skipped midway, what it held is given back. */
static int conf_check_teardown(void **state)
{
	conf_forget_all(NULL);
	conf_refs_error[0] = '\0';
	return 0;
}

/* ---- checks ---- */

static void conf_write_read(void **state)
{
	void *vol = conf_cur->vol;
	uint64_t fh, fh2;
	char buf[64];

	fh = conf_create(vol, "wr", O_RDWR, 0644);
	conf_expect(conf_pwrite(vol, fh, "hello world", 11, 0), 11);
	memset(buf, 0, sizeof(buf));
	conf_expect(conf_pread(vol, fh, buf, sizeof(buf), 0), 11);
	assert_memory_equal(buf, "hello world", 11);
	conf_expect(conf_pread(vol, fh, buf, 5, 6), 5);
	assert_memory_equal(buf, "world", 5);
	conf_expect(conf_pread(vol, fh, buf, sizeof(buf), 11), 0);
	if (conf_cur->be->flush)
		conf_expect(conf_cur->be->flush(vol, fh), 0);
	if (conf_cur->be->fsync)
		conf_expect(conf_cur->be->fsync(vol, fh, 0), 0);
	conf_release(vol, fh);

	/* Again through a new handle. */
	conf_has_data(vol, "wr", "hello world");
	fh = conf_open(vol, "wr", O_RDONLY);
	conf_expect(conf_pread(vol, fh, buf, 3, 8), 3);
	assert_memory_equal(buf, "rld", 3);
	conf_release(vol, fh);
	conf_expect(conf_path_open(vol, "missing", O_RDONLY, &fh2), -ENOENT);
}

static void conf_getattr(void **state)
{
	void *vol = conf_cur->vol;
	struct stat st;
	uint64_t fh, node;

	conf_put(vol, "ga", "0123456789");
	conf_stat(vol, "ga", &st);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 10);
	if (conf_stores_modes())
		assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 1);
	if (conf_cur->caps & VOLFS_CAP_OWNERSHIP)
		assert_int_equal(st.st_uid, geteuid());

	conf_stat(vol, ".", &st);
	assert_true(S_ISDIR(st.st_mode));

	conf_expect(conf_path_op(getattr, vol, "missing", VOLFS_NO_FH, &st),
		    -ENOENT);
	conf_expect(conf_path_op(getattr, vol, "missing/x", VOLFS_NO_FH, &st),
		    -ENOENT);
	conf_expect(conf_path_op(getattr, vol, "ga/x", VOLFS_NO_FH, &st),
		    -ENOTDIR);

	/* An open handle still answers after its name is gone. */
	conf_need_op(conf_cur->be->unlink != NULL, "unlink");
	node = conf_node(vol, "ga");
	fh = conf_open_node(vol, node, O_RDONLY);
	conf_expect(conf_path_unlink(vol, "ga"), 0);
	memset(&st, 0, sizeof(st));
	conf_expect(conf_op(getattr, vol, node, fh, &st), 0);
	assert_int_equal(st.st_size, 10);
	assert_int_equal(st.st_nlink, 0);
	conf_release(vol, fh);
	conf_forget_node(vol, node);
}

static void conf_append(void **state)
{
	void *vol = conf_cur->vol;
	uint64_t fh;

	conf_put(vol, "ap", "abc");
	fh = conf_open(vol, "ap", O_WRONLY | O_APPEND);
	/* The offset is ignored for an O_APPEND handle. */
	conf_expect(conf_pwrite(vol, fh, "def", 3, 0), 3);
	conf_expect(conf_pwrite(vol, fh, "gh", 2, 1), 2);
	conf_release(vol, fh);
	conf_has_data(vol, "ap", "abcdefgh");
}

static void conf_truncate(void **state)
{
	void *vol = conf_cur->vol;
	char buf[128], zero[128] = { 0 };
	struct stat st;
	uint64_t fh, node;

	conf_need_op(conf_cur->be->truncate != NULL, "truncate");
	conf_put(vol, "tr", "hello world");
	conf_expect(conf_path_op(truncate, vol, "tr", VOLFS_NO_FH, 100), 0);
	conf_stat(vol, "tr", &st);
	assert_int_equal(st.st_size, 100);
	fh = conf_open(vol, "tr", O_RDWR);
	conf_expect(conf_pread(vol, fh, buf, sizeof(buf), 0), 100);
	assert_memory_equal(buf, "hello world", 11);
	assert_memory_equal(buf + 11, zero, 89);
	conf_release(vol, fh);

	conf_expect(conf_path_op(truncate, vol, "tr", VOLFS_NO_FH, 5), 0);
	conf_has_data(vol, "tr", "hello");

	/* Through an open handle. */
	node = conf_node(vol, "tr");
	fh = conf_open_node(vol, node, O_RDWR);
	conf_expect(conf_op(truncate, vol, node, fh, 2), 0);
	memset(&st, 0, sizeof(st));
	conf_expect(conf_op(getattr, vol, node, fh, &st), 0);
	assert_int_equal(st.st_size, 2);
	conf_release(vol, fh);
	conf_forget_node(vol, node);
	conf_has_data(vol, "tr", "he");

	conf_expect(conf_path_op(truncate, vol, "missing", VOLFS_NO_FH, 0),
		    -ENOENT);
}

static void conf_sparse(void **state)
{
	void *vol = conf_cur->vol;
	char buf[8];
	struct stat st;
	uint64_t fh;

	conf_need_cap(VOLFS_CAP_RANDOM_WRITE, "RANDOM_WRITE");
	fh = conf_create(vol, "sp", O_RDWR, 0644);
	conf_expect(conf_pwrite(vol, fh, "x", 1, CONF_GIB), 1);
	conf_stat(vol, "sp", &st);
	assert_int_equal(st.st_size, CONF_GIB + 1);
	/* One byte of data, not a gigabyte: at most 128 KiB allocated. */
	if (conf_cur->quirks & CONF_NO_BLOCKS)
		print_message("      (st_blocks not checked: the backend "
			      "cannot know the space allocated)\n");
	else if (st.st_blocks > 256)
		fail_msg("a 1 GiB sparse file uses %lld blocks of 512 bytes",
			 (long long)st.st_blocks);
	conf_expect(conf_pread(vol, fh, buf, 4, CONF_GIB / 2), 4);
	assert_memory_equal(buf, "\0\0\0\0", 4);
	conf_expect(conf_pread(vol, fh, buf, sizeof(buf), CONF_GIB), 1);
	assert_int_equal(buf[0], 'x');
	if (conf_cur->be->lseek) {
		off_t data = conf_cur->be->lseek(vol, fh, 0, SEEK_DATA);
		off_t hole = conf_cur->be->lseek(vol, fh, 0, SEEK_HOLE);

		if (data <= 0 || data > CONF_GIB)
			fail_msg("SEEK_DATA from 0 gave %lld", (long long)data);
		conf_expect(hole, 0);
		conf_expect(conf_cur->be->lseek(vol, fh, CONF_GIB + 1,
						SEEK_DATA),
			    -ENXIO);
	} else {
		print_message("      (no lseek op: SEEK_DATA/SEEK_HOLE not "
			      "checked)\n");
	}
	conf_release(vol, fh);
	if (conf_cur->be->unlink)
		conf_expect(conf_cur->be->unlink(vol, CONF_ROOT, "sp"), 0);
}

static void conf_mkdir_readdir(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct conf_list *l;
	struct stat st;
	uint64_t node, dh;
	int nexpect = 3, i;

	conf_need_op(be->mkdir && be->opendir && be->readdir,
		     "mkdir, opendir or readdir");
	conf_expect(conf_path_mkdir(vol, "rd", 0755, &me), 0);
	conf_expect(conf_path_mkdir(vol, "rd", 0755, &me), -EEXIST);
	conf_stat(vol, "rd", &st);
	assert_true(S_ISDIR(st.st_mode));
	if (conf_stores_modes())
		assert_int_equal(st.st_mode & 07777, 0755);
	conf_put(vol, "rd/a", "a");
	conf_put(vol, "rd/b", "bb");
	conf_expect(conf_path_mkdir(vol, "rd/sub", 0755, &me), 0);
	if ((conf_cur->caps & VOLFS_CAP_SYMLINKS) && be->symlink) {
		conf_expect(conf_path_symlink(vol, "a", "rd/ln", &me), 0);
		nexpect++;
	}

	l = conf_list_new(vol, CONF_LIST_MAX);
	conf_expect(conf_path_list(vol, "rd", 0, l), 0);
	conf_list_ok(l);
	assert_int_equal(l->dots, 2);
	assert_int_equal(l->n, nexpect);
	assert_true(conf_listed(l, "a") == S_IFREG || conf_listed(l, "a") == 0);
	assert_true(conf_listed(l, "b") == S_IFREG || conf_listed(l, "b") == 0);
	assert_true(conf_listed(l, "sub") == S_IFDIR ||
		    conf_listed(l, "sub") == 0);
	if (nexpect == 4)
		assert_true(conf_listed(l, "ln") == S_IFLNK ||
			    conf_listed(l, "ln") == 0);

	/* With plus, every entry comes with its attributes. */
	conf_list_clear(l);
	conf_expect(conf_path_list(vol, "rd", 1, l), 0);
	conf_list_ok(l);
	assert_int_equal(l->dots, 2);
	assert_int_equal(l->n, nexpect);
	i = conf_list_find(l, "b");
	assert_true(i >= 0);
	assert_true(S_ISREG(l->ents[i].st.st_mode));
	assert_int_equal(l->ents[i].st.st_size, 2);
	i = conf_list_find(l, "sub");
	assert_true(i >= 0);
	assert_true(S_ISDIR(l->ents[i].st.st_mode));
	conf_list_clear(l);

	/* A fill with no room stops the listing, which succeeds. */
	node = conf_node(vol, "rd");
	conf_expect(be->opendir(vol, node, &dh), 0);
	l->room = 1;
	conf_expect(be->readdir(vol, dh, 0, 0, conf_fill, l), 0);
	conf_list_ok(l);
	assert_int_equal(l->taken, 1);
	assert_true(l->refused);
	if (be->fsyncdir)
		conf_expect(be->fsyncdir(vol, dh, 0), 0);
	if (be->releasedir)
		conf_expect(be->releasedir(vol, dh), 0);
	conf_list_clear(l);
	l->room = 0;

	/* The root lists "rd", an empty directory lists nothing. */
	conf_expect(conf_path_list(vol, ".", 0, l), 0);
	conf_list_ok(l);
	assert_true(conf_listed(l, "rd") >= 0);
	assert_int_equal(l->dots, 2);
	conf_list_clear(l);
	conf_expect(conf_path_list(vol, "rd/sub", 0, l), 0);
	conf_list_ok(l);
	assert_int_equal(l->n, 0);
	assert_int_equal(l->dots, 2);

	conf_expect(conf_path_op(opendir, vol, "rd/a", &dh), -ENOTDIR);
	conf_expect(conf_path_list(vol, "missing", 0, l), -ENOENT);
	conf_forget_node(vol, node);
	conf_list_free(l);
}

static void conf_rmdir(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct stat st;

	conf_need_op(be->mkdir && be->rmdir && be->unlink,
		     "mkdir, rmdir or unlink");
	conf_expect(conf_path_mkdir(vol, "rm", 0755, &me), 0);
	conf_put(vol, "rm/x", "x");
	conf_expect(conf_path_rmdir(vol, "rm"), -ENOTEMPTY);
	conf_stat(vol, "rm/x", &st);
	conf_expect(conf_path_unlink(vol, "rm/x"), 0);
	conf_expect(conf_path_rmdir(vol, "rm"), 0);
	conf_expect(conf_path_op(getattr, vol, "rm", VOLFS_NO_FH, &st),
		    -ENOENT);
	conf_expect(conf_path_rmdir(vol, "rm"), -ENOENT);
	conf_put(vol, "rmf", "x");
	conf_expect(conf_path_rmdir(vol, "rmf"), -ENOTDIR);
}

static void conf_unlink(void **state)
{
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct stat st;
	long long rc;

	conf_need_op(conf_cur->be->unlink != NULL, "unlink");
	conf_put(vol, "ul", "x");
	conf_expect(conf_path_unlink(vol, "ul"), 0);
	conf_expect(conf_path_op(getattr, vol, "ul", VOLFS_NO_FH, &st),
		    -ENOENT);
	conf_expect(conf_path_unlink(vol, "ul"), -ENOENT);
	if (conf_cur->be->mkdir) {
		conf_expect(conf_path_mkdir(vol, "uld", 0755, &me), 0);
		rc = conf_path_unlink(vol, "uld");
		if (rc != -EISDIR && rc != -EPERM)
			fail_msg("unlink of a directory returned %lld", rc);
		conf_stat(vol, "uld", &st);
	}
}

static void conf_rename_replace(void **state)
{
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct stat st;

	conf_need_op(conf_cur->be->rename != NULL, "rename");
	conf_put(vol, "r1", "one");
	conf_put(vol, "r2", "two");
	conf_expect(conf_path_rename(vol, "r1", "r2", 0), 0);
	conf_expect(conf_path_op(getattr, vol, "r1", VOLFS_NO_FH, &st),
		    -ENOENT);
	conf_has_data(vol, "r2", "one");
	if (conf_cur->be->mkdir) {
		conf_expect(conf_path_mkdir(vol, "rn", 0755, &me), 0);
		conf_expect(conf_path_rename(vol, "r2", "rn/r3", 0), 0);
		conf_has_data(vol, "rn/r3", "one");
	}
	conf_expect(conf_path_rename(vol, "missing", "r4", 0), -ENOENT);
}

static void conf_rename_noreplace(void **state)
{
	void *vol = conf_cur->vol;

	conf_need_cap(VOLFS_CAP_ATOMIC_RENAME, "ATOMIC_RENAME");
	conf_put(vol, "n1", "one");
	conf_put(vol, "n2", "two");
	conf_expect(conf_path_rename(vol, "n1", "n2", VOLFS_RENAME_NOREPLACE),
		    -EEXIST);
	conf_has_data(vol, "n1", "one");
	conf_has_data(vol, "n2", "two");
	conf_expect(conf_path_rename(vol, "n1", "n3", VOLFS_RENAME_NOREPLACE),
		    0);
	conf_has_data(vol, "n3", "one");
}

static void conf_rename_exchange(void **state)
{
	void *vol = conf_cur->vol;

	conf_need_cap(VOLFS_CAP_ATOMIC_RENAME, "ATOMIC_RENAME");
	conf_put(vol, "x1", "one");
	conf_put(vol, "x2", "two");
	conf_expect(conf_path_rename(vol, "x1", "x2", VOLFS_RENAME_EXCHANGE),
		    0);
	conf_has_data(vol, "x1", "two");
	conf_has_data(vol, "x2", "one");
	conf_expect(conf_path_rename(vol, "x1", "missing",
				     VOLFS_RENAME_EXCHANGE),
		    -ENOENT);
}

static void conf_symlink(void **state)
{
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct volfs_entry e;
	char buf[64];
	struct stat st;

	conf_need_cap(VOLFS_CAP_SYMLINKS, "SYMLINKS");
	conf_expect(conf_be_symlink(vol, "some/target", CONF_ROOT, "sl", &me,
				    &e),
		    0);
	/* The entry handed over is the link itself. */
	assert_true(S_ISLNK(e.st.st_mode));
	assert_int_equal(e.st.st_size, strlen("some/target"));
	conf_forget_node(vol, e.node);
	conf_expect(conf_path_symlink(vol, "other", "sl", &me), -EEXIST);
	conf_expect(conf_path_op(readlink, vol, "sl", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "some/target");
	conf_stat(vol, "sl", &st);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, strlen("some/target"));
	/* Truncated, still terminated. */
	memset(buf, 'z', sizeof(buf));
	conf_expect(conf_path_op(readlink, vol, "sl", buf, 5), 0);
	assert_string_equal(buf, "some");
	conf_put(vol, "slf", "x");
	conf_expect(conf_path_op(readlink, vol, "slf", buf, sizeof(buf)),
		    -EINVAL);
	conf_expect(conf_path_op(readlink, vol, "missing", buf, sizeof(buf)),
		    -ENOENT);
}

static void conf_hardlink(void **state)
{
	void *vol = conf_cur->vol;
	struct stat a, b;
	uint64_t fh;

	conf_need_cap(VOLFS_CAP_HARDLINKS, "HARDLINKS");
	conf_put(vol, "h1", "data");
	conf_expect(conf_path_link(vol, "h1", "h2"), 0);
	conf_stat(vol, "h1", &a);
	conf_stat(vol, "h2", &b);
	assert_int_equal(a.st_nlink, 2);
	assert_int_equal(b.st_nlink, 2);
	if (conf_cur->caps & VOLFS_CAP_STABLE_INO)
		assert_int_equal(a.st_ino, b.st_ino);
	else
		print_message("      (no STABLE_INO: st_ino not compared)\n");
	fh = conf_open(vol, "h2", O_WRONLY);
	conf_expect(conf_pwrite(vol, fh, "D", 1, 0), 1);
	conf_release(vol, fh);
	conf_has_data(vol, "h1", "Data");
	conf_expect(conf_path_link(vol, "h1", "h2"), -EEXIST);
	conf_expect(conf_path_unlink(vol, "h1"), 0);
	conf_stat(vol, "h2", &b);
	assert_int_equal(b.st_nlink, 1);
}

static void conf_xattr(void **state)
{
	void *vol = conf_cur->vol;
	char buf[256];
	long long n;
	int found = 0;

	conf_need_cap(VOLFS_CAP_XATTRS, "XATTRS");
	conf_put(vol, "xa", "x");
	n = conf_path_op(setxattr, vol, "xa", "user.volfs", "value", 5, 0);
	if (n == -ENOTSUP || n == -EOPNOTSUPP) {
		print_message("      skipped: the file system under the volume "
			      "refuses user xattrs\n");
		skip();
	}
	conf_expect(n, 0);
	conf_expect(conf_path_op(getxattr, vol, "xa", "user.volfs", NULL, 0),
		    5);
	conf_expect(conf_path_op(getxattr, vol, "xa", "user.volfs", buf,
				 sizeof(buf)),
		    5);
	assert_memory_equal(buf, "value", 5);
	conf_expect(conf_path_op(getxattr, vol, "xa", "user.volfs", buf, 2),
		    -ERANGE);
	conf_expect(conf_path_op(setxattr, vol, "xa", "user.volfs", "v", 1,
				 XATTR_CREATE),
		    -EEXIST);
	conf_expect(conf_path_op(setxattr, vol, "xa", "user.none", "v", 1,
				 XATTR_REPLACE),
		    -ENODATA);
	conf_expect(conf_path_op(setxattr, vol, "xa", "user.empty", "", 0, 0),
		    0);
	conf_expect(conf_path_op(getxattr, vol, "xa", "user.empty", buf,
				 sizeof(buf)),
		    0);

	n = conf_path_op(listxattr, vol, "xa", NULL, 0);
	assert_true(n >= (long long)sizeof("user.volfs"));
	assert_true(n <= (long long)sizeof(buf));
	conf_expect(conf_path_op(listxattr, vol, "xa", buf, (size_t)n), n);
	for (long long i = 0; i < n; i += (long long)strlen(buf + i) + 1)
		if (strcmp(buf + i, "user.volfs") == 0)
			found = 1;
	assert_true(found);
	conf_expect(conf_path_op(listxattr, vol, "xa", buf, 1), -ERANGE);

	conf_expect(conf_path_op(removexattr, vol, "xa", "user.volfs"), 0);
	conf_expect(conf_path_op(getxattr, vol, "xa", "user.volfs", buf,
				 sizeof(buf)),
		    -ENODATA);
	conf_expect(conf_path_op(getxattr, vol, "xa", "user.volfs", NULL, 0),
		    -ENODATA);
	conf_expect(conf_path_op(removexattr, vol, "xa", "user.volfs"),
		    -ENODATA);
	conf_expect(conf_path_op(getxattr, vol, "missing", "user.volfs", NULL,
				 0),
		    -ENOENT);

	/* The root too. */
	conf_expect(conf_op(setxattr, vol, CONF_ROOT, "user.volfs.root", "r",
			    1, 0),
		    0);
	conf_expect(conf_op(getxattr, vol, CONF_ROOT, "user.volfs.root", buf,
			    sizeof(buf)),
		    1);
	assert_int_equal(buf[0], 'r');
	conf_expect(conf_op(removexattr, vol, CONF_ROOT, "user.volfs.root"),
		    0);
}

static void conf_chmod_utimens(void **state)
{
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct timespec tv[2];
	struct stat st;
	uint64_t fh, node;

	conf_need_op(conf_cur->be->chmod && conf_cur->be->utimens,
		     "chmod or utimens");
	conf_put(vol, "cm", "x");
	conf_expect(conf_path_op(chmod, vol, "cm", VOLFS_NO_FH, 0600), 0);
	conf_stat(vol, "cm", &st);
	assert_int_equal(st.st_mode & 07777, 0600);
	node = conf_node(vol, "cm");
	fh = conf_open_node(vol, node, O_RDONLY);
	conf_expect(conf_cur->be->chmod(vol, node, fh, 0640), 0);
	conf_stat(vol, "cm", &st);
	assert_int_equal(st.st_mode & 07777, 0640);

	tv[0] = (struct timespec){ .tv_sec = 1400000000 };
	tv[1] = (struct timespec){ .tv_sec = 1500000000 };
	conf_expect(conf_path_op(utimens, vol, "cm", VOLFS_NO_FH, tv), 0);
	conf_stat(vol, "cm", &st);
	assert_int_equal(st.st_atim.tv_sec, 1400000000);
	assert_int_equal(st.st_mtim.tv_sec, 1500000000);
	tv[0] = (struct timespec){ .tv_nsec = UTIME_OMIT };
	tv[1] = (struct timespec){ .tv_sec = 1600000000 };
	conf_expect(conf_path_op(utimens, vol, "cm", VOLFS_NO_FH, tv), 0);
	conf_stat(vol, "cm", &st);
	assert_int_equal(st.st_atim.tv_sec, 1400000000);
	assert_int_equal(st.st_mtim.tv_sec, 1600000000);
	tv[1] = (struct timespec){ .tv_sec = 1700000000 };
	conf_expect(conf_cur->be->utimens(vol, node, fh, tv), 0);
	conf_stat(vol, "cm", &st);
	assert_int_equal(st.st_mtim.tv_sec, 1700000000);
	conf_release(vol, fh);
	conf_forget_node(vol, node);

	/* A symlink's own attributes change, never its target's. */
	if ((conf_cur->caps & VOLFS_CAP_SYMLINKS) && conf_cur->be->symlink) {
		conf_expect(conf_path_symlink(vol, "cm", "cml", &me), 0);
		conf_path_op(chmod, vol, "cml", VOLFS_NO_FH, 0777);
		tv[1] = (struct timespec){ .tv_sec = 1234567890 };
		conf_expect(conf_path_op(utimens, vol, "cml", VOLFS_NO_FH, tv),
			    0);
		conf_stat(vol, "cm", &st);
		assert_int_equal(st.st_mode & 07777, 0640);
		assert_int_equal(st.st_mtim.tv_sec, 1700000000);
		conf_stat(vol, "cml", &st);
		assert_int_equal(st.st_mtim.tv_sec, 1234567890);
	}
	conf_expect(conf_path_op(chmod, vol, "missing", VOLFS_NO_FH, 0600),
		    -ENOENT);
}

static void conf_chown(void **state)
{
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct stat st;
	uint64_t fh, node;

	conf_need_cap(VOLFS_CAP_OWNERSHIP, "OWNERSHIP");
	conf_need_root();
	conf_need_op(conf_cur->be->chown != NULL, "chown");
	conf_put(vol, "co", "x");
	conf_expect(conf_path_op(chown, vol, "co", VOLFS_NO_FH, CONF_OTHER_UID,
				 CONF_OTHER_GID),
		    0);
	conf_stat(vol, "co", &st);
	assert_int_equal(st.st_uid, CONF_OTHER_UID);
	assert_int_equal(st.st_gid, CONF_OTHER_GID);
	conf_expect(conf_path_op(chown, vol, "co", VOLFS_NO_FH, (uid_t)-1,
				 CONF_OTHER_GID + 1),
		    0);
	conf_stat(vol, "co", &st);
	assert_int_equal(st.st_uid, CONF_OTHER_UID);
	assert_int_equal(st.st_gid, CONF_OTHER_GID + 1);
	node = conf_node(vol, "co");
	fh = conf_open_node(vol, node, O_RDONLY);
	conf_expect(conf_cur->be->chown(vol, node, fh, 0, 0), 0);
	conf_release(vol, fh);
	conf_forget_node(vol, node);
	conf_stat(vol, "co", &st);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);

	if ((conf_cur->caps & VOLFS_CAP_SYMLINKS) && conf_cur->be->symlink) {
		conf_expect(conf_path_symlink(vol, "co", "col", &me), 0);
		conf_expect(conf_path_op(chown, vol, "col", VOLFS_NO_FH,
					 CONF_OTHER_UID + 2,
					 CONF_OTHER_GID + 2),
			    0);
		conf_stat(vol, "col", &st);
		assert_int_equal(st.st_uid, CONF_OTHER_UID + 2);
		conf_stat(vol, "co", &st);
		assert_int_equal(st.st_uid, 0);
	}
}

static void conf_create_owner(void **state)
{
	struct volfs_caller me = conf_me();
	struct volfs_caller who = {
		.uid = CONF_OTHER_UID,
		.gid = CONF_OTHER_GID,
		.pid = getpid(),
	};
	const struct volfs_backend *be = conf_cur->be;
	void *vol = conf_cur->vol;
	struct stat st;
	uint64_t fh;

	conf_need_cap(VOLFS_CAP_OWNERSHIP, "OWNERSHIP");
	conf_need_root();
	conf_need_op(be->create_file && be->mkdir && be->chmod && be->chown,
		     "create_file, mkdir, chmod or chown");
	conf_expect(conf_path_create(vol, "ow", O_WRONLY | O_EXCL, 0644, &who,
				     &fh),
		    0);
	conf_release(vol, fh);
	conf_stat(vol, "ow", &st);
	assert_int_equal(st.st_uid, CONF_OTHER_UID);
	assert_int_equal(st.st_gid, CONF_OTHER_GID);
	conf_expect(conf_path_mkdir(vol, "owd", 0755, &who), 0);
	conf_stat(vol, "owd", &st);
	assert_int_equal(st.st_uid, CONF_OTHER_UID);
	assert_int_equal(st.st_gid, CONF_OTHER_GID);
	if ((conf_cur->caps & VOLFS_CAP_SYMLINKS) && be->symlink) {
		conf_expect(conf_path_symlink(vol, "ow", "owl", &who), 0);
		conf_stat(vol, "owl", &st);
		assert_int_equal(st.st_uid, CONF_OTHER_UID);
		assert_int_equal(st.st_gid, CONF_OTHER_GID);
	}
	if (be->mknod) {
		conf_expect(conf_path_mknod(vol, "owf", S_IFIFO | 0644, 0,
					    &who),
			    0);
		conf_stat(vol, "owf", &st);
		assert_true(S_ISFIFO(st.st_mode));
		assert_int_equal(st.st_uid, CONF_OTHER_UID);
		assert_int_equal(st.st_gid, CONF_OTHER_GID);
	}

	/* Set-user-ID asked for at creation survives the change of owner. */
	conf_expect(conf_path_create(vol, "owsu", O_WRONLY | O_EXCL, 04755,
				     &who, &fh),
		    0);
	conf_release(vol, fh);
	conf_stat(vol, "owsu", &st);
	assert_int_equal(st.st_uid, CONF_OTHER_UID);
	assert_int_equal(st.st_mode & 07777, 04755);

	/* In a set-group-ID directory, new objects take its group. */
	conf_expect(conf_path_mkdir(vol, "sg", 0755, &me), 0);
	conf_expect(conf_path_op(chown, vol, "sg", VOLFS_NO_FH, (uid_t)-1,
				 2000),
		    0);
	conf_expect(conf_path_op(chmod, vol, "sg", VOLFS_NO_FH, 02775), 0);
	conf_expect(conf_path_create(vol, "sg/f", O_WRONLY | O_EXCL, 0644,
				     &who, &fh),
		    0);
	conf_release(vol, fh);
	conf_stat(vol, "sg/f", &st);
	assert_int_equal(st.st_uid, CONF_OTHER_UID);
	assert_int_equal(st.st_gid, 2000);
	conf_expect(conf_path_mkdir(vol, "sg/d", 0755, &who), 0);
	conf_stat(vol, "sg/d", &st);
	assert_int_equal(st.st_uid, CONF_OTHER_UID);
	assert_int_equal(st.st_gid, 2000);
	assert_true(st.st_mode & S_ISGID);
}

static void conf_fallocate(void **state)
{
	void *vol = conf_cur->vol;
	struct stat st;
	long long rc;
	uint64_t fh;

	conf_need_op(conf_cur->be->fallocate != NULL, "fallocate");
	fh = conf_create(vol, "fa", O_RDWR, 0644);
	rc = conf_cur->be->fallocate(vol, fh, 0, 0, 1 << 20);
	if (rc == -EOPNOTSUPP) {
		conf_release(vol, fh);
		print_message("      skipped: the file system under the volume "
			      "cannot preallocate\n");
		skip();
	}
	conf_expect(rc, 0);
	conf_stat(vol, "fa", &st);
	assert_int_equal(st.st_size, 1 << 20);
	assert_true(st.st_blocks * 512 >= 1 << 20);
	conf_expect(conf_cur->be->fallocate(vol, fh, FALLOC_FL_KEEP_SIZE,
					    1 << 20, 1 << 20),
		    0);
	conf_stat(vol, "fa", &st);
	assert_int_equal(st.st_size, 1 << 20);
	conf_release(vol, fh);
}

static void conf_statfs(void **state)
{
	struct statvfs sv;

	conf_need_op(conf_cur->be->statfs != NULL, "statfs");
	memset(&sv, 0, sizeof(sv));
	conf_expect(conf_cur->be->statfs(conf_cur->vol, &sv), 0);
	assert_true(sv.f_bsize > 0);
	assert_true(sv.f_blocks > 0);
	assert_true(sv.f_bfree <= sv.f_blocks);
	assert_true(sv.f_bavail <= sv.f_blocks);
	assert_true(sv.f_namemax > 0);
}

static void conf_real_fd(void **state)
{
	void *vol = conf_cur->vol;
	struct stat st, fst;
	char buf[16];
	uint64_t fh;
	int fd;

	conf_need_cap(VOLFS_CAP_REAL_FD, "REAL_FD");
	conf_need_op(conf_cur->be->fd != NULL, "fd");
	conf_put(vol, "rf", "abcdef");
	fh = conf_open(vol, "rf", O_RDWR);
	fd = conf_cur->be->fd(vol, fh);
	if (fd < 0) {
		/* A backend that must see writes serves this handle
		 * itself; a read-only handle on a file read whole has a
		 * descriptor, which reads what the other handle wrote. */
		uint64_t ro;

		conf_expect(conf_pwrite(vol, fh, "X", 1, 0), 1);
		ro = conf_open(vol, "rf", O_RDONLY);
		conf_expect(conf_pread(vol, ro, buf, sizeof(buf), 0), 6);
		fd = conf_cur->be->fd(vol, ro);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, buf, sizeof(buf), 0), 6);
		assert_memory_equal(buf, "Xbcdef", 6);
		conf_expect(conf_pwrite(vol, fh, "Y", 1, 1), 1);
		assert_int_equal(pread(fd, buf, sizeof(buf), 0), 6);
		assert_memory_equal(buf, "XYcdef", 6);
		conf_release(vol, ro);
		conf_release(vol, fh);
		return;
	}
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &fst), 0);
	conf_stat(vol, "rf", &st);
	assert_int_equal(fst.st_size, 6);
	assert_true(S_ISREG(fst.st_mode));
	if (conf_cur->caps & VOLFS_CAP_STABLE_INO)
		assert_int_equal(fst.st_ino, st.st_ino);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "abcdef", 6);
	assert_int_equal(pwrite(fd, "X", 1, 0), 1);
	conf_expect(conf_pread(vol, fh, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "Xbcdef", 6);
	conf_release(vol, fh);
}

struct conf_thread {
	pthread_t tid;
	int idx;
	void *vol;
	int rc;
	char what[128];
};

static int conf_thread_fail(struct conf_thread *t, const char *what, int rc)
{
	snprintf(t->what, sizeof(t->what), "thread %d: %s: %s", t->idx, what,
		 rc < 0 ? strerror(-rc) : "wrong data");
	t->rc = rc < 0 ? rc : -EIO;
	return t->rc;
}

static void *conf_thread_main(void *arg)
{
	const struct volfs_backend *be = conf_cur->be;
	struct conf_thread *t = arg;
	struct volfs_caller me = conf_me();
	char name[64], buf[4096], got[4096];
	struct volfs_entry e;
	struct stat st;
	uint64_t dir, fh;
	ssize_t n;
	int rc;

	/* Each thread walks to the directory itself. */
	rc = conf_walk(t->vol, "thr", &dir);
	if (rc) {
		conf_thread_fail(t, "lookup thr", rc);
		return NULL;
	}
	snprintf(name, sizeof(name), "f%d", t->idx);
	rc = conf_be_create(t->vol, dir, name, O_RDWR | O_CREAT | O_EXCL, 0644,
			    &me, &e, &fh);
	conf_forget_node(t->vol, dir);
	if (rc) {
		conf_thread_fail(t, "create_file", rc);
		return NULL;
	}
	for (int i = 0; i < 64; i++) {
		memset(buf, 'a' + (t->idx + i) % 26, sizeof(buf));
		n = conf_pwrite(t->vol, fh, buf, sizeof(buf),
				(off_t)i * (off_t)sizeof(buf));
		if (n != (ssize_t)sizeof(buf)) {
			conf_thread_fail(t, "write", n < 0 ? (int)n : 1);
			goto out;
		}
		rc = be->getattr(t->vol, e.node, VOLFS_NO_FH, &st);
		if (rc) {
			conf_thread_fail(t, "getattr", rc);
			goto out;
		}
		if (st.st_size != (off_t)(i + 1) * (off_t)sizeof(buf)) {
			snprintf(t->what, sizeof(t->what),
				 "thread %d: getattr: size %lld after writing "
				 "%lld bytes",
				 t->idx, (long long)st.st_size,
				 (long long)(i + 1) * (long long)sizeof(buf));
			t->rc = -EIO;
			goto out;
		}
	}
	if (be->fsync) {
		rc = be->fsync(t->vol, fh, t->idx & 1);
		if (rc) {
			conf_thread_fail(t, "fsync", rc);
			goto out;
		}
	}
	for (int i = 0; i < 64; i++) {
		memset(buf, 'a' + (t->idx + i) % 26, sizeof(buf));
		n = conf_pread(t->vol, fh, got, sizeof(got),
			       (off_t)i * (off_t)sizeof(got));
		if (n != (ssize_t)sizeof(got) ||
		    memcmp(buf, got, sizeof(buf)) != 0) {
			conf_thread_fail(t, "read back", n < 0 ? (int)n : 1);
			goto out;
		}
	}
out:
	if (be->release)
		be->release(t->vol, fh);
	conf_forget_node(t->vol, e.node);
	return NULL;
}

static void conf_threads(void **state)
{
	struct volfs_caller me = conf_me();
	struct conf_thread t[CONF_THREADS];
	void *vol = conf_cur->vol;
	struct conf_list *l;

	conf_need_cap(VOLFS_CAP_THREADSAFE, "THREADSAFE");
	conf_need_op(conf_cur->be->mkdir && conf_cur->be->create_file &&
			     conf_cur->be->getattr && conf_cur->be->readdir,
		     "mkdir, create_file, getattr or readdir");
	conf_expect(conf_path_mkdir(vol, "thr", 0755, &me), 0);
	memset(t, 0, sizeof(t));
	for (int i = 0; i < CONF_THREADS; i++) {
		t[i].idx = i;
		t[i].vol = vol;
		assert_int_equal(pthread_create(&t[i].tid, NULL,
						conf_thread_main, &t[i]),
				 0);
	}
	for (int i = 0; i < CONF_THREADS; i++)
		pthread_join(t[i].tid, NULL);
	for (int i = 0; i < CONF_THREADS; i++)
		if (t[i].rc)
			fail_msg("%s", t[i].what);
	l = conf_list_new(vol, CONF_LIST_MAX);
	conf_expect(conf_path_list(vol, "thr", 0, l), 0);
	conf_list_ok(l);
	assert_int_equal(l->n, CONF_THREADS);
	conf_list_free(l);
}

/* The decoy outside every volume is as the suite made it. */
static void conf_decoy_intact(void)
{
	char path[PATH_MAX];
	struct stat st;
	DIR *d;
	struct dirent *de;
	int n = 0;

	conf_join(path, sizeof(path), conf_decoy, "decoy");
	conf_host_has(path, "secret\n");
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_int_equal(lstat(conf_decoy, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	d = opendir(conf_decoy);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	if (n != 1)
		fail_msg("something appeared in %s", conf_decoy);
}

/* opendir() of node must fail; a handle it wrongly gives is listed and
 * must show nothing. */
static void conf_no_opendir(void *vol, uint64_t node)
{
	const struct volfs_backend *be = conf_cur->be;
	struct conf_list *l;
	uint64_t dh;
	long long rc;

	rc = conf_op(opendir, vol, node, &dh);
	if (rc < 0)
		return;
	l = conf_list_new(vol, CONF_LIST_MAX);
	conf_list_dh(vol, dh, 0, 0, l);
	if (be->releasedir)
		be->releasedir(vol, dh);
	print_error("opendir() of a symbolic link gave a handle listing %d "
		    "entries\n",
		    l->n);
	conf_list_free(l);
	fail_msg("opendir() of a symbolic link must fail");
}

/*
 * Every op through dir, a link to the decoy directory, must fail and leave
 * the decoy alone: as a parent (the link is no directory) and as a file
 * (it is never followed).
 */
static void conf_attack(void *vol, const char *dir)
{
	struct volfs_caller me = conf_me();
	struct timespec tv[2] = { { .tv_sec = 1 }, { .tv_sec = 1 } };
	char p[256], buf[64];
	struct volfs_entry e;
	struct stat st;
	uint64_t fh, link, planted;

	conf_join(p, sizeof(p), dir, "decoy");
	conf_expect_fail(conf_path_op(getattr, vol, p, VOLFS_NO_FH, &st));
	conf_expect_fail(conf_path_open(vol, p, O_RDONLY, &fh));
	conf_expect_fail(conf_path_open(vol, p, O_RDWR | O_TRUNC, &fh));
	conf_expect_fail(conf_path_op(readlink, vol, p, buf, sizeof(buf)));
	conf_expect_fail(conf_path_op(truncate, vol, p, VOLFS_NO_FH, 0));
	conf_expect_fail(conf_path_op(chmod, vol, p, VOLFS_NO_FH, 0600));
	conf_expect_fail(conf_path_op(chown, vol, p, VOLFS_NO_FH,
				      CONF_OTHER_UID, CONF_OTHER_GID));
	conf_expect_fail(conf_path_op(utimens, vol, p, VOLFS_NO_FH, tv));
	conf_expect_fail(conf_path_op(setxattr, vol, p, "user.x", "y", 1, 0));
	conf_expect_fail(conf_path_op(getxattr, vol, p, "user.x", NULL, 0));
	conf_expect_fail(conf_path_op(listxattr, vol, p, NULL, 0));
	conf_expect_fail(conf_path_link(vol, p, "stolen"));

	/* The link as the parent of a name. */
	link = conf_node(vol, dir);
	conf_expect_fail(conf_be_lookup(vol, link, "decoy", &e));
	conf_expect_fail(conf_op(unlink, vol, link, "decoy"));
	conf_expect_fail(conf_op(rename, vol, link, "decoy", CONF_ROOT,
				 "stolen", 0));
	conf_expect_fail(conf_be_create(vol, link, "new", O_WRONLY | O_CREAT,
					0644, &me, &e, &fh));
	conf_expect_fail(conf_be_mkdir(vol, link, "new", 0755, &me, &e));
	conf_expect_fail(conf_be_symlink(vol, "x", link, "new", &me, &e));
	conf_expect_fail(conf_be_mknod(vol, link, "new", S_IFIFO | 0644, 0,
				       &me, &e));
	conf_put(vol, "planted", "x");
	planted = conf_node(vol, "planted");
	conf_expect_fail(conf_op(rename, vol, CONF_ROOT, "planted", link,
				 "new", 0));
	conf_expect_fail(conf_be_link(vol, planted, link, "new", &e));
	conf_forget_node(vol, planted);
	conf_expect(conf_path_unlink(vol, "planted"), 0);

	/* The link itself: opening or listing it must not follow it. */
	conf_expect(conf_op(open_file, vol, link, O_RDONLY, &fh), -ELOOP);
	conf_expect_fail(conf_op(open_file, vol, link, O_RDONLY | O_DIRECTORY,
				 &fh));
	conf_expect_fail(conf_op(truncate, vol, link, VOLFS_NO_FH, 0));
	conf_op(chmod, vol, link, VOLFS_NO_FH, 0700);
	conf_no_opendir(vol, link);
	conf_forget_node(vol, link);
	conf_decoy_intact();
}

/* Reading through dir, a link to the decoy, must fail and show nothing. */
static void conf_peek(void *vol, const char *dir)
{
	char p[256], buf[64];
	struct volfs_entry e;
	struct stat st;
	uint64_t fh, link;

	conf_join(p, sizeof(p), dir, "decoy");
	conf_expect_fail(conf_path_op(getattr, vol, p, VOLFS_NO_FH, &st));
	conf_expect_fail(conf_path_open(vol, p, O_RDONLY, &fh));
	conf_expect_fail(conf_path_op(getxattr, vol, p, "user.x", buf,
				      sizeof(buf)));
	link = conf_node(vol, dir);
	conf_expect_fail(conf_be_lookup(vol, link, "decoy", &e));
	conf_no_opendir(vol, link);
	conf_expect(conf_op(open_file, vol, link, O_RDONLY, &fh), -ELOOP);
	conf_forget_node(vol, link);
}

static void conf_escape(void **state)
{
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	char up[PATH_MAX + 32];

	conf_need_cap(VOLFS_CAP_SYMLINKS, "SYMLINKS");
	conf_expect(conf_path_symlink(vol, conf_decoy, "esc", &me), 0);
	conf_peek(vol, "esc");
	/* Climbing past any root, then down to the decoy. */
	snprintf(up, sizeof(up), "../../../../../../../../../..%s",
		 conf_decoy);
	conf_expect(conf_path_symlink(vol, up, "up", &me), 0);
	conf_peek(vol, "up");
	conf_expect(conf_path_symlink(vol, conf_decoy, "esc2", &me), 0);
	conf_attack(vol, "esc2");
	/* Through a link one level down, too. */
	if (conf_cur->be->mkdir) {
		conf_expect(conf_path_mkdir(vol, "escd", 0755, &me), 0);
		conf_expect(conf_path_symlink(vol, conf_decoy, "escd/l", &me),
			    0);
		conf_attack(vol, "escd/l");
	}
	assert_int_equal(conf_unlink_escapes(conf_cur), 0);
}

/* Replaces host directory rel in the backing store by a link to target. */
static void conf_host_swap_dir(const char *rel, const char *target)
{
	char path[PATH_MAX], old[PATH_MAX], oldrel[256];

	snprintf(oldrel, sizeof(oldrel), "%s.old", rel);
	conf_join(path, sizeof(path), conf_cur->hostdir, rel);
	conf_join(old, sizeof(old), conf_cur->hostdir, oldrel);
	assert_int_equal(rename(path, old), 0);
	assert_int_equal(symlink(target, path), 0);
}

static void conf_host_swap(void **state)
{
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	char rel[PATH_MAX];
	struct volfs_entry e;
	struct stat st;
	uint64_t held;
	long long rc;

	if (!conf_cur->hostdir[0]) {
		print_message("      skipped: this configuration has no host "
			      "directory to change behind the backend\n");
		skip();
	}
	conf_need_op(conf_cur->be->mkdir != NULL, "mkdir");
	conf_expect(conf_path_mkdir(vol, "hs", 0755, &me), 0);
	conf_put(vol, "hs/passwd", "mine");
	conf_expect(conf_path_mkdir(vol, "deep", 0755, &me), 0);
	conf_expect(conf_path_mkdir(vol, "deep/a", 0755, &me), 0);
	conf_put(vol, "deep/a/decoy", "mine");
	conf_expect(conf_path_mkdir(vol, "rel", 0755, &me), 0);
	conf_has_data(vol, "hs/passwd", "mine");
	/* What the host sees is what reached the storage (a staged
	 * volume uploads after the close). */
	conf_sync(vol, "hs/passwd");
	conf_sync(vol, "deep/a/decoy");
	/* Held across the swap below. */
	held = conf_node(vol, "deep/a");

	conf_host_swap_dir("hs", conf_decoy);
	conf_stat(vol, "hs", &st);
	assert_true(S_ISLNK(st.st_mode));
	conf_peek(vol, "hs");

	conf_host_swap_dir("deep/a", conf_decoy);
	conf_attack(vol, "deep/a");

	/* A node taken before the swap names the volume's own directory (now
	 * deep/a.old) or nothing, never what the link points at. */
	rc = conf_be_lookup(vol, held, "decoy", &e);
	if (rc == 0) {
		conf_node_has_data(vol, e.node, "mine");
		conf_forget_node(vol, e.node);
	} else {
		print_message("      (a directory node held across the swap "
			      "finds nothing: %s)\n",
			      strerror((int)-rc));
	}
	conf_forget_node(vol, held);

	/* A relative link climbing out of the host directory. */
	snprintf(rel, sizeof(rel), "../../%s",
		 strrchr(conf_decoy, '/') + 1);
	conf_host_swap_dir("rel", rel);
	conf_attack(vol, "rel");

	/* The old directories still work under their new names. */
	conf_has_data(vol, "hs.old/passwd", "mine");
	conf_has_data(vol, "deep/a.old/decoy", "mine");
	assert_int_equal(conf_unlink_escapes(conf_cur), 0);
}

static void conf_validate(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_volinfo vi = conf_cur->vi;
	struct volfs_kv kv = { .key = "path" };
	char err[1024], file[PATH_MAX];

	if (strcmp(be->name, "local") != 0) {
		print_message("      skipped: the path option is local's\n");
		skip();
	}
	conf_need_op(be->validate != NULL, "validate");
	vi.opts = &kv;
	vi.nopts = 1;

	kv.value = "/nonexistent/volfs-conformance";
	err[0] = '\0';
	conf_expect(be->validate(&vi, err, sizeof(err)), -ENOENT);
	print_message("      message: %s\n", err);
	assert_non_null(strstr(err, "path"));
	assert_non_null(strstr(err, kv.value));

	kv.value = "relative/dir";
	err[0] = '\0';
	conf_expect(be->validate(&vi, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "path"));

	conf_join(file, sizeof(file), conf_decoy, "decoy");
	kv.value = file;
	err[0] = '\0';
	conf_expect(be->validate(&vi, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, "path"));

	kv.value = conf_decoy;
	conf_expect(be->validate(&vi, err, sizeof(err)), 0);
	vi.nopts = 0;
	conf_expect(be->validate(&vi, err, sizeof(err)), 0);
}

static void conf_destroy(void **state)
{
	struct conf_config *c = conf_cur;
	struct volfs_caller me = conf_me();
	const struct volfs_backend *be = c->be;
	struct volfs_volinfo vi;
	char sdir[PATH_MAX], p[PATH_MAX];
	struct volfs_entry e;
	uint64_t node, fh;
	void *vol;
	struct stat st;

	conf_need_op(be->mkdir != NULL, "mkdir");
	vol = conf_second_up(&vi, sdir, sizeof(sdir), "confdestroy");
	conf_expect(conf_path_mkdir(vol, "dk", 0755, &me), 0);
	conf_put(vol, "dk/file", "data");
	conf_expect(conf_path_mkdir(vol, "dk/sub", 0755, &me), 0);
	if ((c->caps & VOLFS_CAP_SYMLINKS) && be->symlink) {
		conf_expect(conf_path_symlink(vol, conf_decoy, "dk/out", &me),
			    0);
		conf_expect(conf_path_symlink(vol, conf_decoy, "dk/sub/out",
					      &me),
			    0);
	}
	if (!c->hostdir[0]) {
		/* Deeper than a walk would like to hold open. */
		node = conf_node(vol, "dk");
		for (int i = 0; i < 100; i++) {
			conf_expect(conf_be_mkdir(vol, node, "d", 0755, &me,
						  &e),
				    0);
			conf_forget_node(vol, node);
			node = e.node;
		}
		conf_expect(conf_be_create(vol, node, "bottom",
					   O_WRONLY | O_CREAT | O_EXCL, 0644,
					   &me, &e, &fh),
			    0);
		conf_expect(conf_pwrite(vol, fh, "bottom", 6, 0), 6);
		conf_release(vol, fh);
		conf_forget_node(vol, e.node);
		conf_forget_node(vol, node);
	}
	conf_close(vol);
	conf_expect(conf_volume_destroy(be, &vi), 0);
	conf_decoy_intact();

	if (c->hostdir[0]) {
		/* Served from the host: everything stays. */
		assert_int_equal(lstat(c->hostdir, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		conf_join(p, sizeof(p), c->hostdir, "dk/file");
		conf_host_has(p, "data");
		conf_join(p, sizeof(p), c->hostdir, "dk/out");
		if ((c->caps & VOLFS_CAP_SYMLINKS) && be->symlink)
			assert_int_equal(lstat(p, &st), 0);
		conf_join(p, sizeof(p), c->hostdir, "dk");
		volfs_rm_rf(p);
	} else {
		if (strcmp(be->name, "local") == 0) {
			conf_join(p, sizeof(p), sdir, "_data");
			assert_int_equal(lstat(p, &st), -1);
			assert_int_equal(errno, ENOENT);
		}
		if (!(c->caps & VOLFS_CAP_EXTERNAL_CHANGES)) {
			/* A new volume of that name starts empty. */
			vol = conf_second_up(&vi, sdir, sizeof(sdir),
					     "confdestroy");
			conf_expect(conf_path_op(getattr, vol, "dk",
						 VOLFS_NO_FH, &st),
				    -ENOENT);
			conf_close(vol);
			conf_expect(conf_volume_destroy(be, &vi), 0);
		}
	}
	volfs_rm_rf(sdir);
}

/*
 * In a private mount namespace: destroy() of a managed local volume with a
 * file system mounted inside its data must not delete what is in that file
 * system, and must say what to do.  Exit status: 0 ok, 77 cannot mount
 * here, else the failed step.
 */
static int conf_destroy_mount_child(const char *sdir)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	struct volfs_volinfo vi = conf_cur->vi;
	char mnt[PATH_MAX], p[PATH_MAX], err[1024] = "";
	struct volfs_entry e;
	struct stat st;
	void *vol;
	int rc;

	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	vi.name = "confmount";
	vi.state_dir = sdir;
	if (conf_volume_up(&be, &vi, &vol) < 0)
		return 1;
	rc = conf_be_mkdir(vol, CONF_ROOT, "mnt", 0755, &me, &e);
	if (rc == 0)
		conf_forget_node(vol, e.node);
	be->close(vol);
	if (rc)
		return 2;
	conf_join(mnt, sizeof(mnt), sdir, "_data/mnt");
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
		conf_volume_destroy(be, &vi);
		return 77;
	}
	conf_join(p, sizeof(p), mnt, "keep");
	conf_host_put(p, "keep", 0644);
	rc = be->destroy(&vi, err, sizeof(err));
	printf("      destroy() with a mount inside: %d: %s\n", rc, err);
	if (rc >= 0 || !strstr(err, "unmount"))
		return 3;
	if (stat(p, &st) < 0)
		return 4;
	if (umount(mnt) < 0)
		return 5;
	if (conf_volume_destroy(be, &vi) < 0)
		return 6;
	conf_join(p, sizeof(p), sdir, "_data");
	if (lstat(p, &st) == 0 || errno != ENOENT)
		return 7;
	return 0;
}

static void conf_destroy_mount(void **state)
{
	char sdir[PATH_MAX];
	int status;
	pid_t pid;

	if (strcmp(conf_cur->be->name, "local") != 0 || conf_cur->hostdir[0]) {
		print_message("      skipped: checks local's managed data "
			      "directory\n");
		skip();
	}
	if (geteuid() != 0) {
		print_message("      skipped: needs root to mount\n");
		skip();
	}
	conf_join(sdir, sizeof(sdir), conf_cur->dir, "destroy-mount");
	assert_int_equal(mkdir(sdir, 0755), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		status = conf_destroy_mount_child(sdir);
		fflush(NULL);
		_exit(status);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	volfs_rm_rf(sdir);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		print_message("      skipped: cannot mount a tmpfs here\n");
		skip();
	}
	if (WEXITSTATUS(status) != 0)
		fail_msg("destroy with a mount inside: step %d failed",
			 WEXITSTATUS(status));
}

/* ---- files known by node ---- */

/*
 * Closes the configuration's volume and opens it again, as a new daemon
 * would (nothing may be held).
 */
static void conf_reopen(void)
{
	struct conf_config *c = conf_cur;

	conf_close(c->vol);
	c->vol = NULL;
	c->be = c->module;
	conf_expect(conf_volume_open(&c->be, &c->vi, &c->vol), 0);
}

/*
 * References: several given back in one call, the last one of a file whose
 * name is gone, and a volume closes with none held.
 */
static void conf_forget_refs(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol, *vol2;
	struct volfs_entry e[3], d, f;
	struct volfs_volinfo vi;
	char sdir[PATH_MAX], buf[8];
	struct conf_list *l;
	struct stat st;
	uint64_t fh, node;

	conf_need_op(be->forget != NULL, "forget");
	conf_put(vol, "fg", "ref");
	for (int i = 0; i < 3; i++) {
		conf_expect(conf_be_lookup(vol, CONF_ROOT, "fg", &e[i]), 0);
		assert_true(e[i].node == e[0].node);
	}
	/* Two given back in one call: the third keeps the node. */
	conf_forget_n(vol, e[0].node, 2);
	conf_node_stat(vol, e[0].node, &st);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 3);
	conf_node_has_data(vol, e[0].node, "ref");
	conf_forget_node(vol, e[0].node);
	/* With none held, the name finds the file again. */
	conf_has_data(vol, "fg", "ref");

	/* The last reference to a file whose name is gone: its open handle
	 * still holds it. */
	conf_need_op(be->unlink != NULL, "unlink");
	fh = conf_create_node(vol, "fgu", O_RDWR, 0644, &node);
	conf_expect(conf_pwrite(vol, fh, "u", 1, 0), 1);
	conf_expect(be->unlink(vol, CONF_ROOT, "fgu"), 0);
	conf_forget_node(vol, node);
	conf_expect(conf_pread(vol, fh, buf, sizeof(buf), 0), 1);
	assert_int_equal(buf[0], 'u');
	conf_release(vol, fh);
	conf_expect(conf_path_op(getattr, vol, "fgu", VOLFS_NO_FH, &st),
		    -ENOENT);

	/* A volume of its own: nodes taken every way, all given back, then
	 * closed. */
	conf_need_op(be->mkdir && be->rmdir, "mkdir or rmdir");
	vol2 = conf_second_up(&vi, sdir, sizeof(sdir), "confforget");
	conf_expect(conf_be_mkdir(vol2, CONF_ROOT, "fgv", 0755, &me, &d), 0);
	conf_expect(conf_be_create(vol2, d.node, "f",
				   O_WRONLY | O_CREAT | O_EXCL, 0644, &me, &f,
				   &fh),
		    0);
	conf_release(vol2, fh);
	if ((conf_cur->caps & VOLFS_CAP_SYMLINKS) && be->symlink) {
		conf_expect(conf_be_symlink(vol2, "f", d.node, "l", &me, &e[0]),
			    0);
		conf_forget_node(vol2, e[0].node);
	}
	if ((conf_cur->caps & VOLFS_CAP_HARDLINKS) && be->link) {
		conf_expect(conf_be_link(vol2, f.node, d.node, "h", &e[1]), 0);
		assert_true(e[1].node == f.node);
		conf_forget_node(vol2, e[1].node);
	}
	conf_expect(conf_be_lookup(vol2, d.node, "f", &e[2]), 0);
	assert_true(e[2].node == f.node);
	l = conf_list_new(vol2, CONF_LIST_MAX);
	if (be->opendir && be->readdir) {
		conf_expect(conf_node_list(vol2, d.node, 1, l), 0);
		conf_list_ok(l);
		assert_true(conf_list_find(l, "f") >= 0);
	}
	conf_list_free(l);
	conf_forget_node(vol2, e[2].node);
	conf_forget_node(vol2, f.node);
	/* The storage may be shared with the configuration's volume. */
	conf_expect(be->unlink(vol2, d.node, "f"), 0);
	be->unlink(vol2, d.node, "l");
	be->unlink(vol2, d.node, "h");
	conf_expect(be->rmdir(vol2, CONF_ROOT, "fgv"), 0);
	conf_forget_node(vol2, d.node);
	conf_close(vol2);
	conf_expect(conf_volume_destroy(be, &vi), 0);
	volfs_rm_rf(sdir);
}

/* Two names of one file: while held, one node, whichever name finds it. */
static void conf_link_same_node(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct volfs_entry x;
	struct conf_list *l;
	uint64_t a, b, fh;
	int i;

	conf_need_cap(VOLFS_CAP_HARDLINKS, "HARDLINKS");
	conf_need_op(be->link && be->mkdir, "link or mkdir");
	conf_expect(conf_path_mkdir(vol, "sn1", 0755, &me), 0);
	conf_expect(conf_path_mkdir(vol, "sn2", 0755, &me), 0);
	conf_put(vol, "sn1/x", "same");
	conf_expect(conf_path_link(vol, "sn1/x", "sn2/y"), 0);
	/* Found by each name, with nothing held before. */
	a = conf_node(vol, "sn1/x");
	b = conf_node(vol, "sn2/y");
	if (a != b)
		fail_msg("the two names of one file gave nodes %#llx and "
			 "%#llx while both were held",
			 (unsigned long long)a, (unsigned long long)b);
	/* Listed with plus. */
	if (be->opendir && be->readdir) {
		l = conf_list_new(vol, CONF_LIST_MAX);
		conf_expect(conf_path_list(vol, "sn2", 1, l), 0);
		conf_list_ok(l);
		i = conf_list_find(l, "y");
		assert_true(i >= 0);
		assert_true(l->ents[i].node == a);
		conf_list_free(l);
	}
	/* Handed over by link() for a third name. */
	conf_expect(conf_be_link(vol, a, CONF_ROOT, "sn3", &x), 0);
	assert_true(x.node == a);
	assert_int_equal(x.st.st_nlink, 3);
	conf_forget_node(vol, x.node);
	/* A write through one name shows through the others. */
	fh = conf_open_node(vol, b, O_WRONLY);
	conf_expect(conf_pwrite(vol, fh, "S", 1, 0), 1);
	conf_release(vol, fh);
	conf_has_data(vol, "sn3", "Same");
	conf_node_has_data(vol, a, "Same");
	conf_forget_node(vol, a);
	conf_forget_node(vol, b);
}

/*
 * A file keeps its node and data through the link and unlink of its other
 * names, and through a rename over a name whose file has another link.
 */
static void conf_link_sequences(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct volfs_entry a, b, x, e;
	struct stat st;
	uint64_t fh, s, d, n;

	conf_need_cap(VOLFS_CAP_HARDLINKS, "HARDLINKS");
	conf_need_op(be->link && be->mkdir && be->unlink && be->rename,
		     "link, mkdir, unlink or rename");
	/* mkdir a b; create a/x; link to b/y; unlink b/y. */
	conf_expect(conf_be_mkdir(vol, CONF_ROOT, "ls_a", 0755, &me, &a), 0);
	conf_expect(conf_be_mkdir(vol, CONF_ROOT, "ls_b", 0755, &me, &b), 0);
	conf_expect(conf_be_create(vol, a.node, "x", O_RDWR | O_CREAT | O_EXCL,
				   0644, &me, &x, &fh),
		    0);
	conf_expect(conf_pwrite(vol, fh, "xdata", 5, 0), 5);
	conf_release(vol, fh);
	conf_expect(conf_be_link(vol, x.node, b.node, "y", &e), 0);
	assert_true(e.node == x.node);
	assert_int_equal(e.st.st_nlink, 2);
	conf_forget_node(vol, e.node);
	conf_expect(be->unlink(vol, b.node, "y"), 0);
	/* The node of a/x still answers, opens and reads. */
	conf_node_stat(vol, x.node, &st);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 5);
	conf_node_has_data(vol, x.node, "xdata");
	fh = conf_open_node(vol, x.node, O_WRONLY);
	conf_expect(conf_pwrite(vol, fh, "X", 1, 0), 1);
	conf_release(vol, fh);
	conf_has_data(vol, "ls_a/x", "Xdata");
	conf_expect(conf_be_lookup(vol, a.node, "x", &e), 0);
	assert_true(e.node == x.node);
	conf_forget_node(vol, e.node);
	conf_expect(conf_be_lookup(vol, b.node, "y", &e), -ENOENT);
	conf_forget_node(vol, x.node);
	conf_forget_node(vol, a.node);
	conf_forget_node(vol, b.node);

	/* echo 1 >s; echo 2 >d; ln d dl; mv s d: dl still reads 2. */
	conf_put(vol, "ls_s", "1");
	conf_put(vol, "ls_d", "2");
	conf_expect(conf_path_link(vol, "ls_d", "ls_dl"), 0);
	conf_expect(conf_path_rename(vol, "ls_s", "ls_d", 0), 0);
	conf_has_data(vol, "ls_dl", "2");
	conf_has_data(vol, "ls_d", "1");
	conf_stat(vol, "ls_dl", &st);
	assert_int_equal(st.st_nlink, 1);

	/* The same with the nodes held across it. */
	conf_put(vol, "ls_s2", "1");
	conf_put(vol, "ls_d2", "2");
	s = conf_node(vol, "ls_s2");
	d = conf_node(vol, "ls_d2");
	conf_expect(conf_path_link(vol, "ls_d2", "ls_dl2"), 0);
	conf_expect(conf_path_rename(vol, "ls_s2", "ls_d2", 0), 0);
	conf_node_has_data(vol, d, "2");
	conf_node_stat(vol, d, &st);
	assert_int_equal(st.st_nlink, 1);
	conf_node_has_data(vol, s, "1");
	conf_has_data(vol, "ls_dl2", "2");
	conf_has_data(vol, "ls_d2", "1");
	n = conf_node(vol, "ls_dl2");
	assert_true(n == d);
	conf_forget_node(vol, n);
	n = conf_node(vol, "ls_d2");
	assert_true(n == s);
	conf_forget_node(vol, n);
	conf_forget_node(vol, s);
	conf_forget_node(vol, d);
}

/* A node stays valid after its name is unlinked or replaced. */
static void conf_node_unlinked(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct volfs_entry e;
	struct stat st;
	uint64_t fh, x, o;

	conf_need_op(be->unlink && be->rename, "unlink or rename");
	fh = conf_create_node(vol, "nu", O_RDWR, 0644, &x);
	conf_expect(conf_pwrite(vol, fh, "alive", 5, 0), 5);
	conf_expect(be->unlink(vol, CONF_ROOT, "nu"), 0);
	conf_expect(conf_be_lookup(vol, CONF_ROOT, "nu", &e), -ENOENT);
	conf_node_stat(vol, x, &st);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(st.st_size, 5);
	/* The handle open before the unlink reads and writes. */
	conf_fh_has_data(vol, fh, "alive");
	conf_expect(conf_pwrite(vol, fh, "!", 1, 5), 1);
	memset(&st, 0, sizeof(st));
	conf_expect(conf_op(getattr, vol, x, fh, &st), 0);
	assert_int_equal(st.st_size, 6);
	if (be->truncate) {
		conf_expect(be->truncate(vol, x, fh, 2), 0);
		conf_node_stat(vol, x, &st);
		assert_int_equal(st.st_size, 2);
	}
	conf_release(vol, fh);
	/* With no handle left, the node alone still answers, where the
	 * store knows files by identity (a path store has nothing left to
	 * ask: backend.h lets it answer -ENOENT). */
	if (conf_cur->caps & VOLFS_CAP_STABLE_INO) {
		conf_node_stat(vol, x, &st);
		assert_int_equal(st.st_nlink, 0);
	}
	conf_forget_node(vol, x);

	/* Replaced by a rename. */
	conf_put(vol, "nr_old", "old");
	conf_put(vol, "nr_new", "new");
	o = conf_node(vol, "nr_old");
	fh = conf_open_node(vol, o, O_RDONLY);
	conf_expect(conf_path_rename(vol, "nr_new", "nr_old", 0), 0);
	conf_node_stat(vol, o, &st);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(st.st_size, 3);
	conf_fh_has_data(vol, fh, "old");
	conf_release(vol, fh);
	conf_has_data(vol, "nr_old", "new");
	conf_forget_node(vol, o);

	/* A removed directory. */
	if (be->mkdir && be->rmdir && (conf_cur->caps & VOLFS_CAP_STABLE_INO)) {
		conf_expect(conf_be_mkdir(vol, CONF_ROOT, "nud", 0755, &me, &e),
			    0);
		conf_expect(be->rmdir(vol, CONF_ROOT, "nud"), 0);
		conf_node_stat(vol, e.node, &st);
		assert_true(S_ISDIR(st.st_mode));
		conf_forget_node(vol, e.node);
	}
}

/* A node stays valid across a rename of it or of a directory above it. */
static void conf_node_rename_above(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct volfs_entry d, f, e;
	struct conf_list *l;
	struct stat st;
	uint64_t fh;

	conf_need_op(be->mkdir && be->rename, "mkdir or rename");
	conf_expect(conf_path_mkdir(vol, "ra1", 0755, &me), 0);
	conf_expect(conf_path_mkdir(vol, "ra1/ra2", 0755, &me), 0);
	d.node = conf_node(vol, "ra1/ra2");
	conf_expect(conf_be_create(vol, d.node, "f",
				   O_RDWR | O_CREAT | O_EXCL, 0644, &me, &f,
				   &fh),
		    0);
	conf_expect(conf_pwrite(vol, fh, "deep", 4, 0), 4);
	conf_release(vol, fh);

	/* The directory two levels up is renamed. */
	conf_expect(conf_path_rename(vol, "ra1", "ra1r", 0), 0);
	conf_node_stat(vol, f.node, &st);
	assert_int_equal(st.st_size, 4);
	fh = conf_open_node(vol, f.node, O_RDWR);
	conf_fh_has_data(vol, fh, "deep");
	conf_expect(conf_pwrite(vol, fh, "DEEP", 4, 0), 4);
	conf_release(vol, fh);
	conf_has_data(vol, "ra1r/ra2/f", "DEEP");
	conf_expect(conf_path_op(getattr, vol, "ra1/ra2/f", VOLFS_NO_FH, &st),
		    -ENOENT);
	/* The directory's node finds and makes names where it now is. */
	conf_expect(conf_be_lookup(vol, d.node, "f", &e), 0);
	assert_true(e.node == f.node);
	conf_forget_node(vol, e.node);
	conf_put_at(vol, d.node, "g", "new");
	conf_has_data(vol, "ra1r/ra2/g", "new");

	/* The directory itself moves to another parent. */
	conf_expect(conf_path_mkdir(vol, "rb", 0755, &me), 0);
	conf_expect(conf_path_rename(vol, "ra1r/ra2", "rb/ra2m", 0), 0);
	conf_node_has_data(vol, f.node, "DEEP");
	conf_node_stat(vol, d.node, &st);
	assert_true(S_ISDIR(st.st_mode));
	/* Then the file, out of it. */
	conf_expect(conf_path_rename(vol, "rb/ra2m/f", "rf", 0), 0);
	conf_node_has_data(vol, f.node, "DEEP");
	conf_expect(conf_be_lookup(vol, CONF_ROOT, "rf", &e), 0);
	assert_true(e.node == f.node);
	conf_forget_node(vol, e.node);
	if (be->opendir && be->readdir) {
		l = conf_list_new(vol, CONF_LIST_MAX);
		conf_expect(conf_node_list(vol, d.node, 0, l), 0);
		conf_list_ok(l);
		assert_int_equal(l->n, 1);
		assert_true(conf_list_find(l, "g") >= 0);
		conf_list_free(l);
	}
	conf_forget_node(vol, f.node);
	conf_forget_node(vol, d.node);
}

#define CONF_DEEP_LEVELS 31
#define CONF_DEEP_NAME 200

/*
 * A tree whose paths are longer than a system call takes (over 6,000
 * bytes): made, read and taken down by node, and walked from the root.
 */
static void conf_deep_tree(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	char names[CONF_DEEP_LEVELS + 1][CONF_DEEP_NAME + 1];
	uint64_t nodes[CONF_DEEP_LEVELS + 1];
	size_t len = 0, size;
	struct volfs_entry e, f;
	struct conf_list *l;
	struct stat st;
	char *path;
	uint64_t fh;

	if (conf_cur->quirks & CONF_SHORT_PATHS) {
		print_message("      skipped: the server refuses paths longer "
			      "than about 4.3 KB (Samba)\n");
		skip();
	}
	conf_need_op(be->mkdir && be->rmdir && be->unlink && be->rename,
		     "mkdir, rmdir, unlink or rename");
	size = CONF_DEEP_LEVELS * (CONF_DEEP_NAME + 1) + 16;
	path = malloc(size);
	assert_non_null(path);
	nodes[0] = CONF_ROOT;
	for (int i = 1; i <= CONF_DEEP_LEVELS; i++) {
		memset(names[i], 'a' + i % 26, CONF_DEEP_NAME);
		names[i][CONF_DEEP_NAME] = '\0';
		memcpy(names[i], "dt", 2);
		conf_expect(conf_be_mkdir(vol, nodes[i - 1], names[i], 0755,
					  &me, &e),
			    0);
		nodes[i] = e.node;
		len += (size_t)snprintf(path + len, size - len, "%s%s",
					i > 1 ? "/" : "", names[i]);
	}
	conf_expect(conf_be_create(vol, nodes[CONF_DEEP_LEVELS], "bottom",
				   O_WRONLY | O_CREAT | O_EXCL, 0644, &me, &f,
				   &fh),
		    0);
	conf_expect(conf_pwrite(vol, fh, "deep bottom", 11, 0), 11);
	conf_release(vol, fh);
	snprintf(path + len, size - len, "/bottom");
	print_message("      %d levels, a path of %zu bytes\n",
		      CONF_DEEP_LEVELS, strlen(path));
	assert_true(strlen(path) > 6000);
	/* Walked from the root, one name at a time. */
	conf_has_data(vol, path, "deep bottom");
	conf_node_stat(vol, f.node, &st);
	assert_int_equal(st.st_size, 11);
	if (be->opendir && be->readdir) {
		l = conf_list_new(vol, CONF_LIST_MAX);
		conf_expect(conf_node_list(vol, nodes[CONF_DEEP_LEVELS], 1, l),
			    0);
		conf_list_ok(l);
		assert_int_equal(l->n, 1);
		assert_true(l->ents[0].node == f.node);
		conf_list_free(l);
	}

	/* Renamed at the top, still there at the bottom. */
	conf_expect(be->rename(vol, CONF_ROOT, names[1], CONF_ROOT, "deeptop",
			       0),
		    0);
	conf_node_has_data(vol, f.node, "deep bottom");
	conf_put_at(vol, nodes[CONF_DEEP_LEVELS], "b2", "two");
	snprintf(path, size, "deeptop");
	len = strlen(path);
	for (int i = 2; i <= CONF_DEEP_LEVELS; i++)
		len += (size_t)snprintf(path + len, size - len, "/%s",
					names[i]);
	snprintf(path + len, size - len, "/b2");
	conf_has_data(vol, path, "two");

	/* Taken down from the bottom. */
	conf_expect(be->unlink(vol, nodes[CONF_DEEP_LEVELS], "bottom"), 0);
	conf_expect(be->unlink(vol, nodes[CONF_DEEP_LEVELS], "b2"), 0);
	conf_forget_node(vol, f.node);
	for (int i = CONF_DEEP_LEVELS; i >= 1; i--) {
		conf_expect(be->rmdir(vol, nodes[i - 1],
				      i == 1 ? "deeptop" : names[i]),
			    0);
		conf_forget_node(vol, nodes[i]);
	}
	conf_expect(conf_be_lookup(vol, CONF_ROOT, "deeptop", &e), -ENOENT);
	free(path);
}

/*
 * Makes directory dir in the root and count empty files PREFIXnnnnn in
 * it; returns the directory's node, held.
 */
static uint64_t conf_make_files(void *vol, const char *dir,
				const char *prefix, int count)
{
	struct volfs_caller me = conf_me();
	struct volfs_entry d, e;
	char name[64];
	uint64_t fh;

	conf_need_op(conf_cur->be->mkdir && conf_cur->be->create_file,
		     "mkdir or create_file");
	conf_expect(conf_be_mkdir(vol, CONF_ROOT, dir, 0755, &me, &d), 0);
	for (int i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "%s%05d", prefix, i);
		conf_expect(conf_be_create(vol, d.node, name,
					   O_WRONLY | O_CREAT | O_EXCL, 0644,
					   &me, &e, &fh),
			    0);
		conf_release(vol, fh);
		conf_forget_node(vol, e.node);
	}
	return d.node;
}

/*
 * Removes directory dir of the root, whose node is held: the count files
 * PREFIXnnnnn conf_make_files() made in it, whatever else is listed in it,
 * and then itself.
 */
static void conf_remove_dir(void *vol, uint64_t node, const char *dir,
			    const char *prefix, int count)
{
	struct conf_list *l = conf_list_new(vol, 256);
	char name[64];
	long long rc;

	conf_need_op(conf_cur->be->unlink && conf_cur->be->rmdir,
		     "unlink or rmdir");
	for (int i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "%s%05d", prefix, i);
		rc = conf_cur->be->unlink(vol, node, name);
		if (rc != -ENOENT)
			conf_expect(rc, 0);
	}
	for (;;) {
		conf_list_clear(l);
		conf_expect(conf_node_list(vol, node, 0, l), 0);
		if (l->n == 0)
			break;
		for (int i = 0; i < l->n; i++)
			conf_expect(conf_cur->be->unlink(vol, node,
							 l->ents[i].name),
				    0);
	}
	conf_list_free(l);
	conf_expect(conf_cur->be->rmdir(vol, CONF_ROOT, dir), 0);
	conf_forget_node(vol, node);
}

static void conf_need_readdir(void)
{
	conf_need_op(conf_cur->be->opendir && conf_cur->be->readdir,
		     "opendir or readdir");
}

/*
 * Positions: listing in small steps gives what one listing gives, in the
 * same order, and any position given goes on with the entry after it.
 */
static void conf_readdir_resume(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	static const int picks[] = { 30, 5, 47, 0, 18, 41, 12, 29 };
	const int count = 50;
	void *vol = conf_cur->vol;
	struct conf_list *all, *step;
	uint64_t dir, dh;
	char name[32];

	conf_need_readdir();
	dir = conf_make_files(vol, "rs", "e", count);
	all = conf_list_new(vol, count + 8);
	step = conf_list_new(vol, count + 8);
	conf_expect(be->opendir(vol, dir, &dh), 0);
	conf_expect(conf_list_dh(vol, dh, 0, 0, all), 0);
	conf_list_ok(all);
	assert_int_equal(all->dots, 2);
	assert_int_equal(all->n, count);
	for (int i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "e%05d", i);
		assert_int_equal(conf_list_count(all, name), 1);
	}

	/* Seven at a time, each call going on from the last position. */
	step->room = 7;
	conf_expect(conf_list_dh(vol, dh, 0, 0, step), 0);
	conf_list_ok(step);
	assert_int_equal(step->n, count);
	assert_int_equal(step->dots, 2);
	for (int i = 0; i < count; i++)
		if (strcmp(step->ents[i].name, all->ents[i].name) != 0 ||
		    step->ents[i].seq != all->ents[i].seq)
			fail_msg("listed in steps, entry %d is '%s', not '%s'",
				 i, step->ents[i].name, all->ents[i].name);

	/* Any position, in any order, goes on with the next entry. */
	step->room = 1;
	for (size_t i = 0; i < sizeof(picks) / sizeof(picks[0]); i++) {
		int k = picks[i];

		/* The next entry may be "." or "..": only other ones. */
		if (all->ents[k + 1].seq != all->ents[k].seq + 1)
			continue;
		conf_list_clear(step);
		conf_expect(be->readdir(vol, dh, all->ents[k].next, 0,
					conf_fill, step),
			    0);
		conf_list_ok(step);
		assert_int_equal(step->taken, 1);
		assert_int_equal(step->n, 1);
		assert_string_equal(step->ents[0].name, all->ents[k + 1].name);
	}
	/* After the last position there is nothing. */
	conf_list_clear(step);
	step->room = 0;
	conf_expect(be->readdir(vol, dh, all->next, 0, conf_fill, step), 0);
	assert_int_equal(step->taken, 0);
	if (be->releasedir)
		conf_expect(be->releasedir(vol, dh), 0);
	conf_list_free(all);
	conf_list_free(step);
	conf_remove_dir(vol, dir, "rs", "e", count);
}

#define CONF_CHURN 40

/*
 * Entries added and removed between two readdir() calls: those may or may
 * not be listed, but no other entry is skipped or listed twice.
 */
static void conf_readdir_churn(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	const int count = CONF_CHURN;
	void *vol = conf_cur->vol;
	/* Per original entry: 0 there, 1 removed once listed, 2 removed
	 * before being listed. */
	int gone[CONF_CHURN] = { 0 };
	struct volfs_entry e;
	struct conf_list *l;
	int added = 0, rounds = 0, shown = 0;
	char name[32];
	uint64_t dir, dh, fh;
	off_t off = 0;

	conf_need_readdir();
	conf_need_op(be->unlink != NULL, "unlink");
	dir = conf_make_files(vol, "rc", "c", count);
	l = conf_list_new(vol, 4 * count);
	l->room = 6;
	conf_expect(be->opendir(vol, dir, &dh), 0);
	for (;;) {
		int before = l->n, victim = -1;

		l->taken = 0;
		l->refused = 0;
		conf_expect(be->readdir(vol, dh, off, 0, conf_fill, l), 0);
		conf_list_ok(l);
		if (!l->refused)
			break;
		assert_true(l->taken > 0);
		assert_true(++rounds < 100);
		off = l->next;
		/* One entry just listed goes... */
		for (int i = before; i < l->n && victim < 0; i++) {
			int idx;

			if (sscanf(l->ents[i].name, "c%05d", &idx) == 1 &&
			    idx < count && !gone[idx])
				victim = idx;
		}
		if (victim >= 0) {
			snprintf(name, sizeof(name), "c%05d", victim);
			conf_expect(be->unlink(vol, dir, name), 0);
			gone[victim] = 1;
		}
		/* ... and one not listed yet, and two new ones come. */
		for (int idx = count - 1; idx >= 0; idx--) {
			snprintf(name, sizeof(name), "c%05d", idx);
			if (!gone[idx] && conf_list_find(l, name) < 0) {
				conf_expect(be->unlink(vol, dir, name), 0);
				gone[idx] = 2;
				break;
			}
		}
		for (int i = 0; i < 2; i++) {
			snprintf(name, sizeof(name), "n%05d", added++);
			conf_expect(conf_be_create(vol, dir, name,
						   O_WRONLY | O_CREAT | O_EXCL,
						   0644, &me, &e, &fh),
				    0);
			conf_release(vol, fh);
			conf_forget_node(vol, e.node);
		}
	}
	if (be->releasedir)
		conf_expect(be->releasedir(vol, dh), 0);
	assert_int_equal(l->dots, 2);
	for (int idx = 0; idx < count; idx++) {
		int n;

		snprintf(name, sizeof(name), "c%05d", idx);
		n = conf_list_count(l, name);
		if (gone[idx] == 2 ? n > 1 : n != 1)
			fail_msg("'%s' (%s) was listed %d times", name,
				 gone[idx] == 2 ? "removed before being listed"
				 : gone[idx]    ? "removed once listed"
						: "never changed",
				 n);
	}
	for (int i = 0; i < added; i++) {
		snprintf(name, sizeof(name), "n%05d", i);
		if (conf_list_count(l, name) > 1)
			fail_msg("'%s', added while listing, was listed %d "
				 "times",
				 name, conf_list_count(l, name));
		shown += conf_list_count(l, name);
	}
	for (int i = 0; i < l->n; i++)
		if (l->ents[i].name[0] != 'c' && l->ents[i].name[0] != 'n')
			fail_msg("'%s' was listed", l->ents[i].name);
	print_message("      %d calls; of %d entries added meanwhile, %d "
		      "listed\n",
		      rounds + 1, added, shown);
	conf_list_free(l);
	conf_remove_dir(vol, dir, "rc", "c", count);
}

/*
 * readdir with plus hands over each entry as lookup() would, with a
 * reference: the node of a file held is the one listed, and an entry
 * refused for lack of room comes again with a reference again.
 */
static void conf_readdir_plus(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	struct volfs_entry e;
	struct conf_list *l;
	uint64_t held, dir;
	int nexpect = 3, i;

	conf_need_readdir();
	conf_need_op(be->mkdir != NULL, "mkdir");
	conf_expect(conf_path_mkdir(vol, "rp", 0755, &me), 0);
	conf_put(vol, "rp/f1", "1");
	conf_put(vol, "rp/f2", "22");
	conf_expect(conf_path_mkdir(vol, "rp/sub", 0755, &me), 0);
	if ((conf_cur->caps & VOLFS_CAP_SYMLINKS) && be->symlink) {
		conf_expect(conf_path_symlink(vol, "f1", "rp/ln", &me), 0);
		nexpect++;
	}
	held = conf_node(vol, "rp/f2");
	dir = conf_node(vol, "rp");
	l = conf_list_new(vol, CONF_LIST_MAX);
	conf_expect(conf_node_list(vol, dir, 1, l), 0);
	conf_list_ok(l);
	assert_int_equal(l->n, nexpect);
	assert_int_equal(l->dots, 2);
	i = conf_list_find(l, "f2");
	assert_true(i >= 0);
	assert_true(l->ents[i].node == held);
	assert_int_equal(l->ents[i].st.st_size, 2);
	for (i = 0; i < l->n; i++) {
		conf_expect(conf_be_lookup(vol, dir, l->ents[i].name, &e), 0);
		if (e.node != l->ents[i].node)
			fail_msg("'%s' was listed as node %#llx, looked up as "
				 "%#llx",
				 l->ents[i].name,
				 (unsigned long long)l->ents[i].node,
				 (unsigned long long)e.node);
		assert_int_equal(e.st.st_mode, l->ents[i].st.st_mode);
		if (conf_cur->caps & VOLFS_CAP_STABLE_INO)
			assert_int_equal(e.st.st_ino, l->ents[i].st.st_ino);
		conf_forget_node(vol, e.node);
	}

	/* One entry a call: each refused one comes again. */
	conf_list_clear(l);
	l->room = 1;
	conf_expect(conf_node_list(vol, dir, 1, l), 0);
	conf_list_ok(l);
	assert_int_equal(l->n, nexpect);
	assert_int_equal(l->dots, 2);
	conf_list_free(l);
	conf_forget_node(vol, held);
	conf_forget_node(vol, dir);
	/* Every reference given back: the names still find their files. */
	conf_has_data(vol, "rp/f1", "1");
	conf_has_data(vol, "rp/f2", "22");
}

#define CONF_BIG_DIR 10000

/* Plain readdir lists a directory of 10,000 entries, each once. */
static void conf_readdir_big(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	void *vol = conf_cur->vol;
	struct conf_list *l;
	unsigned char *seen;
	uint64_t dir, dh;

	conf_need_readdir();
	dir = conf_make_files(vol, "big", "f", CONF_BIG_DIR);
	seen = calloc(CONF_BIG_DIR, 1);
	assert_non_null(seen);
	l = conf_list_new(vol, CONF_BIG_DIR + 16);
	/* About what a kernel buffer of a page holds. */
	l->room = 100;
	conf_expect(be->opendir(vol, dir, &dh), 0);
	conf_expect(conf_list_dh(vol, dh, 0, 0, l), 0);
	if (be->releasedir)
		conf_expect(be->releasedir(vol, dh), 0);
	conf_list_ok(l);
	assert_int_equal(l->dots, 2);
	for (int i = 0; i < l->n; i++) {
		int idx = -1;

		if (sscanf(l->ents[i].name, "f%05d", &idx) != 1 || idx < 0 ||
		    idx >= CONF_BIG_DIR)
			fail_msg("'%s' was listed", l->ents[i].name);
		if (seen[idx]++)
			fail_msg("'%s' was listed twice", l->ents[i].name);
	}
	assert_int_equal(l->n, CONF_BIG_DIR);
	conf_list_free(l);
	free(seen);
	conf_remove_dir(vol, dir, "big", "f", CONF_BIG_DIR);
}

/*
 * create_file() on a name that exists: with O_EXCL it fails, without it
 * it opens the file as it is (owner and mode unchanged), with O_TRUNC
 * emptied.
 */
static void conf_create_file_excl(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	struct volfs_caller other = {
		.uid = CONF_OTHER_UID,
		.gid = CONF_OTHER_GID,
		.pid = getpid(),
	};
	const struct volfs_caller *who = &me;
	void *vol = conf_cur->vol;
	struct volfs_entry e;
	struct stat st;
	uint64_t fh, x;

	conf_need_op(be->create_file != NULL, "create_file");
	/* A second creator, where owners are stored, does not take it. */
	if ((conf_cur->caps & VOLFS_CAP_OWNERSHIP) && geteuid() == 0)
		who = &other;
	fh = conf_create_node(vol, "ce", O_RDWR, 0600, &x);
	conf_expect(conf_pwrite(vol, fh, "abc", 3, 0), 3);
	conf_release(vol, fh);

	conf_expect(conf_be_create(vol, CONF_ROOT, "ce",
				   O_RDWR | O_CREAT | O_EXCL, 0644, who, &e,
				   &fh),
		    -EEXIST);
	conf_expect(conf_be_create(vol, CONF_ROOT, "ce", O_RDWR | O_CREAT,
				   0644, who, &e, &fh),
		    0);
	assert_true(e.node == x);
	assert_true(S_ISREG(e.st.st_mode));
	assert_int_equal(e.st.st_size, 3);
	conf_fh_has_data(vol, fh, "abc");
	conf_expect(conf_pwrite(vol, fh, "Z", 1, 0), 1);
	conf_release(vol, fh);
	conf_forget_node(vol, e.node);
	conf_node_stat(vol, x, &st);
	if (conf_stores_modes())
		assert_int_equal(st.st_mode & 07777, 0600);
	if (conf_cur->caps & VOLFS_CAP_OWNERSHIP)
		assert_int_equal(st.st_uid, geteuid());
	conf_node_has_data(vol, x, "Zbc");

	conf_expect(conf_be_create(vol, CONF_ROOT, "ce",
				   O_WRONLY | O_CREAT | O_TRUNC, 0644, who, &e,
				   &fh),
		    0);
	assert_true(e.node == x);
	conf_release(vol, fh);
	conf_forget_node(vol, e.node);
	conf_node_stat(vol, x, &st);
	assert_int_equal(st.st_size, 0);
	if (conf_stores_modes())
		assert_int_equal(st.st_mode & 07777, 0600);
	conf_forget_node(vol, x);

	/* A directory of that name. */
	if (be->mkdir) {
		conf_expect(conf_path_mkdir(vol, "ced", 0755, &me), 0);
		conf_expect(conf_be_create(vol, CONF_ROOT, "ced",
					   O_RDONLY | O_CREAT | O_EXCL, 0644,
					   &me, &e, &fh),
			    -EEXIST);
		conf_expect_fail(conf_be_create(vol, CONF_ROOT, "ced",
						O_RDWR | O_CREAT, 0644, &me,
						&e, &fh));
	}
}

/*
 * node_encode() and node_decode(): the file found again, while held (the
 * same node), with nothing held, and by a new open of the volume.
 */
static void conf_node_handle(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	void *vol = conf_cur->vol;
	unsigned char *buf, *dbuf, small[1];
	size_t need = 0, len, dlen;
	struct volfs_entry e, d;
	struct stat st;
	uint64_t x;
	int rc;

	conf_need_op(be->node_encode && be->node_decode,
		     "node_encode or node_decode");
	conf_put(vol, "nh", "handle");
	x = conf_node(vol, "nh");
	conf_node_stat(vol, x, &st);
	/* Too small a buffer: the length it needs. */
	conf_expect(be->node_encode(vol, x, small, &need), -EOVERFLOW);
	assert_true(need > 0 && need <= 4096);
	buf = malloc(need);
	assert_non_null(buf);
	len = need;
	conf_expect(be->node_encode(vol, x, buf, &len), 0);
	assert_true(len > 0 && len <= need);

	/* While held: the same node. */
	conf_expect(conf_be_decode(vol, buf, len, &e), 0);
	assert_true(e.node == x);
	assert_true(S_ISREG(e.st.st_mode));
	assert_int_equal(e.st.st_size, 6);
	if (conf_cur->caps & VOLFS_CAP_STABLE_INO)
		assert_int_equal(e.st.st_ino, st.st_ino);
	conf_forget_node(vol, e.node);
	conf_forget_node(vol, x);
	/* With nothing held. */
	conf_expect(conf_be_decode(vol, buf, len, &e), 0);
	conf_node_has_data(vol, e.node, "handle");
	conf_forget_node(vol, e.node);

	/* A directory, and names found in it. */
	conf_need_op(be->mkdir && be->unlink && be->rmdir,
		     "mkdir, unlink or rmdir");
	conf_expect(conf_path_mkdir(vol, "nhd", 0755, &me), 0);
	conf_put(vol, "nhd/in", "inside");
	x = conf_node(vol, "nhd");
	dlen = 0;
	conf_expect(be->node_encode(vol, x, small, &dlen), -EOVERFLOW);
	dbuf = malloc(dlen);
	assert_non_null(dbuf);
	conf_expect(be->node_encode(vol, x, dbuf, &dlen), 0);
	conf_forget_node(vol, x);
	conf_expect(conf_be_decode(vol, dbuf, dlen, &d), 0);
	assert_true(S_ISDIR(d.st.st_mode));
	conf_expect(conf_be_lookup(vol, d.node, "in", &e), 0);
	conf_node_has_data(vol, e.node, "inside");
	conf_forget_node(vol, e.node);
	conf_forget_node(vol, d.node);

	/* By a new open of the volume, when its data outlives one. */
	if (conf_cur->caps & VOLFS_CAP_PERSISTENT) {
		conf_reopen();
		vol = conf_cur->vol;
		be = conf_cur->be;
		conf_expect(conf_be_decode(vol, buf, len, &e), 0);
		conf_node_has_data(vol, e.node, "handle");
		conf_forget_node(vol, e.node);
		conf_expect(conf_be_decode(vol, dbuf, dlen, &d), 0);
		assert_true(S_ISDIR(d.st.st_mode));
		conf_forget_node(vol, d.node);
	} else {
		print_message("      (no PERSISTENT: not decoded by a new "
			      "open)\n");
	}

	/* Gone and forgotten: -ESTALE, or still found while the backend
	 * keeps it. */
	conf_expect(conf_path_unlink(vol, "nh"), 0);
	rc = conf_be_decode(vol, buf, len, &e);
	if (rc == 0) {
		print_message("      (a removed file's handle still decodes)\n");
		conf_forget_node(vol, e.node);
	} else {
		conf_expect(rc, -ESTALE);
	}
	conf_expect(conf_path_unlink(vol, "nhd/in"), 0);
	conf_expect(conf_path_rmdir(vol, "nhd"), 0);
	free(buf);
	free(dbuf);
}
/* ---- the ram backend ---- */

#define CONF_RAM_PAGE 4096
#define CONF_RAM_CHUNK (64 * 1024)
#define CONF_RAM_WRITERS 8
#define CONF_RAM_READERS 4
#define CONF_RAM_FILE (4 << 20)

static void conf_need_ram(void)
{
	if (strcmp(conf_cur->be->name, "ram") == 0)
		return;
	print_message("      skipped: checks the ram backend\n");
	skip();
}

/* A ram volume in the daemon's memory (store=daemon or its fallback). */
static int conf_ram_daemon(void)
{
	return strcmp(conf_cur->be->name, "ram") == 0 &&
	       conf_cur->be == conf_cur->module;
}

/* Checks of the daemon store's own accounting. */
static void conf_need_ram_daemon(void)
{
	conf_need_ram();
	if (conf_ram_daemon())
		return;
	print_message("      skipped: checks the ram daemon store\n");
	skip();
}

/* Checks of the tmpfs store. */
static void conf_need_ram_tmpfs(void)
{
	conf_need_ram();
	if (!conf_ram_daemon())
		return;
	print_message("      skipped: checks the ram tmpfs store\n");
	skip();
}

/* A private ram volume, for checks that need an empty one of known size. */
struct conf_ramvol {
	struct volfs_volinfo vi;
	struct volfs_kv kv[2];
	char sdir[PATH_MAX];
	void *vol;
};

static void *conf_ram_up(struct conf_ramvol *r, const char *name,
			 const char *size)
{
	const struct volfs_backend *be;

	memset(r, 0, sizeof(*r));
	conf_join(r->sdir, sizeof(r->sdir), conf_cur->dir, name);
	assert_true(mkdir(r->sdir, 0755) == 0 || errno == EEXIST);
	r->kv[0].key = "size";
	r->kv[0].value = size;
	/* In the store of the configuration, served by its table. */
	r->kv[1].key = "store";
	r->kv[1].value = conf_ram_daemon() ? "daemon" : "tmpfs";
	r->vi = conf_cur->vi;
	r->vi.name = name;
	r->vi.state_dir = r->sdir;
	r->vi.opts = r->kv;
	r->vi.nopts = 2;
	be = conf_cur->module;
	conf_expect(conf_volume_up(&be, &r->vi, &r->vol), 0);
	assert_ptr_equal(be, conf_cur->be);
	return r->vol;
}

static void conf_ram_down(struct conf_ramvol *r)
{
	conf_close(r->vol);
	r->vol = NULL;
	conf_expect(conf_volume_destroy(conf_cur->be, &r->vi), 0);
	volfs_rm_rf(r->sdir);
}

/* Bytes in use as statfs tells, checking the numbers agree. */
static uint64_t conf_ram_used(void *vol)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	conf_expect(conf_cur->be->statfs(vol, &sv), 0);
	assert_true(sv.f_bfree <= sv.f_blocks);
	assert_true(sv.f_bavail <= sv.f_bfree);
	assert_true(sv.f_ffree <= sv.f_files);
	return (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
}

/* The byte at off of writer t's file: differs between pages and files. */
static unsigned char conf_ram_byte(int t, uint64_t off)
{
	return (unsigned char)((off >> 12) * 131 + off + (uint64_t)t * 17);
}

static void conf_ram_fill(unsigned char *buf, size_t len, int t, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = conf_ram_byte(t, off + i);
}

static long conf_ram_verify(const unsigned char *buf, size_t len, int t,
			    uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != conf_ram_byte(t, off + i))
			return (long)i;
	return -1;
}

static void conf_ram_bad_opt(const char *key, const char *value)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_volinfo vi = conf_cur->vi;
	struct volfs_kv kv = { .key = key, .value = value };
	char err[1024] = "", want[64];

	vi.opts = &kv;
	vi.nopts = 1;
	conf_expect(be->validate(&vi, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "option '%s'", key);
	if (!strstr(err, want) || !strstr(err, value) || !strstr(err, "e.g."))
		fail_msg("%s=%s: the message does not name the option, the "
			 "value and an example: %s",
			 key, value, err);
}

static void conf_ram_options(void **state)
{
	static const char *const bad_size[] = { "12x",	"",    "-1", "64mb",
						"1.5g", " 64m", "0x10",
						"99999999999999999999" };
	static const char *const bad_mode[] = { "999", "17777", "rwx", "",
						"-755" };
	static const char *const bad_id[] = { "-1", "abc", "4294967295", "",
					      "1.5", "+7" };
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_volinfo vi = conf_cur->vi;
	struct volfs_kv kv[4] = {
		{ .key = "size", .value = "1m" },
		{ .key = "mode", .value = "0700" },
		{ .key = "uid", .value = "1000" },
		{ .key = "gid", .value = "2000" },
	};
	char sdir[PATH_MAX], err[1024] = "";
	struct statvfs sv;
	struct stat st;
	void *vol;

	conf_need_ram();
	conf_need_op(be->validate != NULL, "validate");
	for (size_t i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++)
		conf_ram_bad_opt("size", bad_size[i]);
	conf_expect(be->validate(&vi, err, sizeof(err)), 0);
	vi.opts = kv;
	vi.nopts = 1;
	conf_expect(be->validate(&vi, err, sizeof(err)), 0);
	kv[0].value = "12x";
	conf_expect(be->validate(&vi, err, sizeof(err)), -EINVAL);
	print_message("      message: %s\n", err);
	assert_string_equal(err, "option 'size': '12x' is not a size: use "
				 "bytes or a number with k, m, g or t, e.g. "
				 "64m");
	/* Too small to hold anything, too big for 64 bits. */
	kv[0].value = "1k";
	conf_expect(be->validate(&vi, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "option 'size'"));
	kv[0].value = "16777216t";
	conf_expect(be->validate(&vi, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "option 'size'"));
	for (size_t i = 0; i < sizeof(bad_mode) / sizeof(bad_mode[0]); i++)
		conf_ram_bad_opt("mode", bad_mode[i]);
	for (size_t i = 0; i < sizeof(bad_id) / sizeof(bad_id[0]); i++) {
		conf_ram_bad_opt("uid", bad_id[i]);
		conf_ram_bad_opt("gid", bad_id[i]);
	}
	kv[0].value = "64M";
	vi.nopts = 4;
	conf_expect(be->validate(&vi, err, sizeof(err)), 0);
	kv[0].value = "1T";
	conf_expect(be->validate(&vi, err, sizeof(err)), 0);
	kv[0].value = "1048576";
	conf_expect(be->validate(&vi, err, sizeof(err)), 0);

	/* The root directory is made as the options say. */
	conf_join(sdir, sizeof(sdir), conf_cur->dir, "ramopts");
	assert_int_equal(mkdir(sdir, 0755), 0);
	vi.name = "ramopts";
	vi.state_dir = sdir;
	conf_expect(conf_volume_up(&be, &vi, &vol), 0);
	memset(&st, 0, sizeof(st));
	conf_expect(be->getattr(vol, CONF_ROOT, VOLFS_NO_FH, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 2000);
	assert_int_equal(st.st_nlink, 2);
	conf_expect(be->statfs(vol, &sv), 0);
	assert_int_equal((uint64_t)sv.f_blocks * sv.f_frsize, 1 << 20);
	be->close(vol);
	conf_expect(conf_volume_destroy(be, &vi), 0);
	volfs_rm_rf(sdir);
}

/* A size option's value in bytes: a number with k, m or g. */
static uint64_t conf_ram_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k':
	case 'K':
		return v << 10;
	case 'm':
	case 'M':
		return v << 20;
	case 'g':
	case 'G':
		return v << 30;
	}
	return v;
}

/* The configuration's own volume: its root and size follow its options. */
static void conf_ram_root(void **state)
{
	mode_t mode = 01777;
	uid_t uid = 0;
	gid_t gid = 0;
	uint64_t size = 0;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	struct statvfs sv;
	struct stat st;

	conf_need_ram();
	for (size_t i = 0; i < conf_cur->nopts; i++) {
		const char *k = conf_cur->opts[i].key;
		const char *val = conf_cur->opts[i].value;

		if (strcmp(k, "mode") == 0)
			mode = (mode_t)strtoul(val, NULL, 8);
		else if (strcmp(k, "uid") == 0)
			uid = (uid_t)strtoul(val, NULL, 10);
		else if (strcmp(k, "gid") == 0)
			gid = (gid_t)strtoul(val, NULL, 10);
		else if (strcmp(k, "size") == 0)
			size = conf_ram_size(val);
	}
	conf_stat(conf_cur->vol, ".", &st);
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	conf_expect(conf_cur->be->statfs(conf_cur->vol, &sv), 0);
	assert_int_equal(sv.f_frsize, CONF_RAM_PAGE);
	if (size) {
		assert_int_equal((uint64_t)sv.f_blocks * sv.f_frsize, size);
	} else if (pages > 0 && psize > 0) {
		/* Half of the physical memory, as tmpfs. */
		size = (uint64_t)pages * (uint64_t)psize / 2;
		assert_int_equal(sv.f_blocks, size / CONF_RAM_PAGE);
	}
}

/*
 * Makes a directory "d" and empty files d/empty-file-NNNNNN in it until a
 * create fails; returns how many were made, *rc the failure.
 */
static int conf_ram_fill_names(void *vol, long long *rc)
{
	struct volfs_caller me = conf_me();
	struct volfs_entry d, e;
	char name[64];
	uint64_t fh;
	int files;

	conf_expect(conf_be_mkdir(vol, CONF_ROOT, "d", 0755, &me, &d), 0);
	for (files = 0; files < 100000; files++) {
		snprintf(name, sizeof(name), "empty-file-%06d", files);
		*rc = conf_be_create(vol, d.node, name,
				     O_WRONLY | O_CREAT | O_EXCL, 0644, &me,
				     &e, &fh);
		if (*rc)
			break;
		conf_release(vol, fh);
		conf_forget_node(vol, e.node);
	}
	conf_forget_node(vol, d.node);
	return files;
}

/* Data: a file fills the volume up to the limit, never past it. */
static void conf_ram_enospc(void **state)
{
	struct conf_ramvol r;
	unsigned char *buf;
	uint64_t cap = 1 << 20, used0, total = 0;
	struct stat st;
	uint64_t fh, fh2;
	ssize_t n = 0;
	int shortw = 0;

	conf_need_ram_daemon();
	buf = malloc(CONF_RAM_CHUNK);
	assert_non_null(buf);
	conf_ram_up(&r, "ramfull", "1m");
	used0 = conf_ram_used(r.vol);
	assert_true(used0 > 0 && used0 < 64 * 1024);

	fh = conf_create(r.vol, "fill", O_RDWR, 0644);
	for (int i = 0; i < 64; i++) {
		conf_ram_fill(buf, CONF_RAM_CHUNK, 1, total);
		n = conf_pwrite(r.vol, fh, buf, CONF_RAM_CHUNK, (off_t)total);
		assert_true(conf_ram_used(r.vol) <= cap);
		if (n < 0)
			break;
		assert_true(n > 0 && n <= CONF_RAM_CHUNK);
		total += (uint64_t)n;
		if (n < CONF_RAM_CHUNK) {
			/* What fitted was written, as on tmpfs. */
			shortw = 1;
			n = conf_pwrite(r.vol, fh, buf, CONF_RAM_CHUNK,
					(off_t)total);
			break;
		}
	}
	print_message("      wrote %llu bytes into a 1 MiB volume%s\n",
		      (unsigned long long)total,
		      shortw ? ", the last write short" : "");
	conf_expect(n, -ENOSPC);
	/* Nearly all of it is usable: the rest is metadata. */
	assert_true(total > cap - 64 * 1024 && total < cap);
	conf_expect(conf_pwrite(r.vol, fh, "x", 1, (off_t)total + 100000),
		    -ENOSPC);
	conf_stat(r.vol, "fill", &st);
	assert_int_equal(st.st_size, total);
	assert_true((uint64_t)st.st_blocks * 512 <= cap);
	/* Pages already there can be written. */
	conf_ram_fill(buf, CONF_RAM_CHUNK, 1, 0);
	conf_expect(conf_pwrite(r.vol, fh, buf, CONF_RAM_CHUNK, 0),
		    CONF_RAM_CHUNK);
	memset(buf, 0, CONF_RAM_CHUNK);
	conf_expect(conf_pread(r.vol, fh, buf, CONF_RAM_CHUNK,
			       (off_t)total - CONF_RAM_CHUNK),
		    CONF_RAM_CHUNK);
	assert_int_equal(conf_ram_verify(buf, CONF_RAM_CHUNK, 1,
					 total - CONF_RAM_CHUNK),
			 -1);
	/* fallocate is all or nothing. */
	fh2 = conf_create(r.vol, "prealloc", O_RDWR, 0644);
	conf_expect(conf_cur->be->fallocate(r.vol, fh2, 0, 0, 1 << 20),
		    -ENOSPC);
	conf_stat(r.vol, "prealloc", &st);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_blocks, 0);
	conf_release(r.vol, fh2);
	conf_expect(conf_path_unlink(r.vol, "prealloc"), 0);
	assert_true(conf_ram_used(r.vol) <= cap);
	conf_release(r.vol, fh);

	/* Deleting gives the space back: writing works again. */
	conf_expect(conf_path_unlink(r.vol, "fill"), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);
	fh = conf_create(r.vol, "again", O_RDWR, 0644);
	for (uint64_t off = 0; off < cap / 2; off += CONF_RAM_CHUNK) {
		conf_ram_fill(buf, CONF_RAM_CHUNK, 2, off);
		conf_expect(conf_pwrite(r.vol, fh, buf, CONF_RAM_CHUNK,
					(off_t)off),
			    CONF_RAM_CHUNK);
	}
	conf_release(r.vol, fh);
	/* Truncating too. */
	conf_expect(conf_path_op(truncate, r.vol, "again", VOLFS_NO_FH, 0), 0);
	conf_stat(r.vol, "again", &st);
	assert_int_equal(st.st_blocks, 0);
	conf_expect(conf_path_unlink(r.vol, "again"), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);
	conf_ram_down(&r);
	free(buf);
}

/* Metadata counts too: names, inodes, xattrs, symlink targets. */
static void conf_ram_metadata(void **state)
{
	struct volfs_caller me = conf_me();
	const struct volfs_backend *be = conf_cur->be;
	char path[64], target[4000], *val;
	struct conf_ramvol r;
	uint64_t used0, used1, fh, cap = 1 << 20, d, x;
	struct volfs_entry e;
	struct statvfs sv;
	struct stat st;
	long long rc = 0;
	int files, xattrs, links;

	conf_need_ram_daemon();
	val = calloc(1, 60000);
	assert_non_null(val);
	conf_ram_up(&r, "rammeta", "1m");
	used0 = conf_ram_used(r.vol);
	files = conf_ram_fill_names(r.vol, &rc);
	print_message("      %d empty files filled a 1 MiB volume\n", files);
	conf_expect(rc, -ENOSPC);
	/* Each costs an inode and a name: at most 4096 fit. */
	assert_true(files > 1000 && files < 4096);
	d = conf_node(r.vol, "d");
	/* The last bytes, in ever smaller xattrs. */
	for (size_t len = 4096, i = 0; len > 0; len /= 2)
		while (i < 100000) {
			snprintf(path, sizeof(path), "user.f%zu", i++);
			if (be->setxattr(r.vol, d, path, val, len, 0))
				break;
		}
	conf_expect(be->statfs(r.vol, &sv), 0);
	assert_int_equal(sv.f_bfree, 0);
	assert_int_equal(sv.f_ffree, 0);
	conf_expect(conf_be_create(r.vol, d, "y", O_WRONLY | O_CREAT | O_EXCL,
				   0644, &me, &e, &fh),
		    -ENOSPC);
	conf_expect(conf_be_mkdir(r.vol, d, "dir", 0755, &me, &e), -ENOSPC);
	conf_expect(conf_be_symlink(r.vol, "t", d, "link", &me, &e), -ENOSPC);
	conf_expect(conf_be_mknod(r.vol, d, "fifo", S_IFIFO | 0644, 0, &me,
				  &e),
		    -ENOSPC);
	memset(target, 'L', 198);
	target[198] = '\0';
	conf_expect(be->rename(r.vol, d, "empty-file-000000", d, target, 0),
		    -ENOSPC);
	conf_stat(r.vol, "d/empty-file-000000", &st);
	/* A name no longer than the old one needs no room. */
	conf_expect(be->rename(r.vol, d, "empty-file-000000", d, "short", 0),
		    0);
	conf_expect(be->rename(r.vol, d, "short", d, "empty-file-000000", 0),
		    0);
	conf_expect(conf_path_op(setxattr, r.vol, "d/empty-file-000000",
				 "user.x", val, 4096, 0),
		    -ENOSPC);
	/* Pages of data do not fit either. */
	conf_expect(conf_path_open(r.vol, "d/empty-file-000001", O_WRONLY,
				   &fh),
		    0);
	conf_expect(conf_pwrite(r.vol, fh, "x", 1, 0), -ENOSPC);
	conf_release(r.vol, fh);
	for (int i = 0; i < files; i++) {
		snprintf(path, sizeof(path), "empty-file-%06d", i);
		conf_expect(be->unlink(r.vol, d, path), 0);
	}
	conf_forget_node(r.vol, d);
	conf_expect(be->rmdir(r.vol, CONF_ROOT, "d"), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);

	/* Long xattrs. */
	conf_put(r.vol, "x", "x");
	x = conf_node(r.vol, "x");
	used1 = conf_ram_used(r.vol);
	for (xattrs = 0; xattrs < 100; xattrs++) {
		snprintf(path, sizeof(path), "user.big%d", xattrs);
		memset(val, 'a' + xattrs % 26, 60000);
		rc = be->setxattr(r.vol, x, path, val, 60000, XATTR_CREATE);
		if (rc)
			break;
		assert_true(conf_ram_used(r.vol) <= cap);
	}
	print_message("      %d xattrs of 60000 bytes fit\n", xattrs);
	conf_expect(rc, -ENOSPC);
	assert_true(xattrs >= 15 && xattrs < 18);
	/* The failed one was not made. */
	conf_expect(be->getxattr(r.vol, x, path, NULL, 0), -ENODATA);
	conf_expect(be->getxattr(r.vol, x, "user.big3", val, 60000), 60000);
	assert_int_equal(val[59999], 'd');
	/* Replacing by a value of the same size needs no room. */
	conf_expect(be->setxattr(r.vol, x, "user.big3", val, 60000,
				 XATTR_REPLACE),
		    0);
	for (int i = 0; i < xattrs; i++) {
		snprintf(path, sizeof(path), "user.big%d", i);
		conf_expect(be->removexattr(r.vol, x, path), 0);
	}
	assert_int_equal(conf_ram_used(r.vol), used1);
	conf_forget_node(r.vol, x);

	/* Long symlink targets. */
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	for (links = 0; links < 1000; links++) {
		snprintf(path, sizeof(path), "l%d", links);
		rc = conf_path_symlink(r.vol, target, path, &me);
		if (rc)
			break;
	}
	print_message("      %d symlinks to 3999-byte targets fit\n", links);
	conf_expect(rc, -ENOSPC);
	assert_true(links > 200 && links < 256);
	for (int i = 0; i < links; i++) {
		snprintf(path, sizeof(path), "l%d", i);
		conf_expect(be->unlink(r.vol, CONF_ROOT, path), 0);
	}
	conf_expect(be->unlink(r.vol, CONF_ROOT, "x"), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);
	conf_ram_down(&r);
	free(val);
}

/* statfs follows what is stored. */
static void conf_ram_statfs(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	unsigned char *buf;
	struct conf_ramvol r;
	struct statvfs a, b;
	uint64_t used0, used1, fh;
	struct stat st;
	char path[32];

	conf_need_ram_daemon();
	buf = malloc(1 << 20);
	assert_non_null(buf);
	conf_ram_up(&r, "ramstatfs", "64m");
	used0 = conf_ram_used(r.vol);
	conf_expect(be->statfs(r.vol, &a), 0);
	assert_int_equal(a.f_blocks, (64 << 20) / CONF_RAM_PAGE);
	assert_int_equal(a.f_bsize, CONF_RAM_PAGE);
	assert_true(a.f_namemax >= 255);
	assert_true(a.f_files > 0 && a.f_ffree < a.f_files);

	fh = conf_create(r.vol, "data", O_RDWR, 0644);
	conf_ram_fill(buf, 1 << 20, 3, 0);
	conf_expect(conf_pwrite(r.vol, fh, buf, 1 << 20, 0), 1 << 20);
	conf_release(r.vol, fh);
	used1 = conf_ram_used(r.vol);
	conf_stat(r.vol, "data", &st);
	assert_int_equal(st.st_blocks, (1 << 20) / 512);
	/* The data and a little metadata: an inode, a name, tree nodes. */
	print_message("      1 MiB of data uses %llu bytes\n",
		      (unsigned long long)(used1 - used0));
	assert_true(used1 - used0 >= 1 << 20);
	assert_true(used1 - used0 <= (1 << 20) + 4 * CONF_RAM_PAGE);

	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "f%d", i);
		conf_put(r.vol, path, "");
	}
	conf_expect(be->statfs(r.vol, &b), 0);
	assert_true(b.f_ffree + 20 <= a.f_ffree);
	assert_true(b.f_bfree < a.f_bfree);
	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "f%d", i);
		conf_expect(be->unlink(r.vol, CONF_ROOT, path), 0);
	}
	conf_expect(be->unlink(r.vol, CONF_ROOT, "data"), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);
	conf_expect(be->statfs(r.vol, &b), 0);
	assert_int_equal(b.f_ffree, a.f_ffree);
	conf_ram_down(&r);
	free(buf);
}

/*
 * In a child that is not root (so may not make a file system): which table
 * ram's open_as() picks for store=auto, and that store=tmpfs fails saying
 * what to do.  Exit status 0 when both are right.
 */
static int conf_ram_unprivileged_child(const struct volfs_volinfo *base)
{
	const struct volfs_backend *be = conf_cur->module;
	struct volfs_kv kv[1] = { { "store", "tmpfs" } };
	struct volfs_volinfo vi = *base;
	char err[1024] = "";
	void *vol;
	int rc;

	if (setgroups(0, NULL) < 0 || setresgid(1000, 1000, 1000) < 0 ||
	    setresuid(1000, 1000, 1000) < 0)
		return 10;
	vi.opts = NULL;
	vi.nopts = 0;
	rc = be->open_as(&vi, &vol, &be, err, sizeof(err));
	if (rc || be != conf_cur->module)
		return 11;
	be->close(vol);
	vi.opts = kv;
	vi.nopts = 1;
	rc = be->open_as(&vi, &vol, &be, err, sizeof(err));
	printf("      store=tmpfs, not root: %s\n", err);
	fflush(stdout);
	if (rc != -EPERM || !strstr(err, "use -o store=daemon"))
		return 12;
	return 0;
}

/*
 * A tmpfs-store volume opened as root, served after dropping root: the
 * kernel then refuses to give its inode space more room.  The create
 * fails with ENOSPC and a warning says why and what to do.
 */
static int conf_ram_grow_refused_child(const struct volfs_volinfo *base,
				       const char *logpath)
{
	const struct volfs_backend *be = conf_cur->module;
	struct volfs_kv kv[2] = { { "size", "1m" }, { "store", "tmpfs" } };
	struct volfs_volinfo vi = *base;
	char err[1024] = "", line[512];
	long long rc = 0;
	int files, fd, warned = 0;
	FILE *log;
	void *vol;

	vi.opts = kv;
	vi.nopts = 2;
	if (be->open_as(&vi, &vol, &be, err, sizeof(err)) != 0)
		return 20;
	/* Read back through fd: the file is root's. */
	fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		return 21;
	if (setgroups(0, NULL) < 0 || setresgid(1000, 1000, 1000) < 0 ||
	    setresuid(1000, 1000, 1000) < 0)
		return 22;
	files = conf_ram_fill_names(vol, &rc);
	be->close(vol);
	fflush(stderr);
	printf("      not root: %d files, then %s\n", files,
	       strerror((int)-rc));
	fflush(stdout);
	/* The first 64 KiB of inodes, less the root and d. */
	if (rc != -ENOSPC || files < 1 || files > 64)
		return 23;
	if (lseek(fd, 0, SEEK_SET) != 0 || !(log = fdopen(fd, "r")))
		return 24;
	while (fgets(line, sizeof(line), log))
		if (strstr(line, "cannot give its tmpfs more room") &&
		    strstr(line, "-o store=daemon"))
			warned = 1;
	fclose(log);
	return warned ? 0 : 25;
}

/*
 * The tmpfs store: the kernel holds writes to size= (ENOSPC when made, the
 * space back after a delete), allows one inode per KiB of it, and each
 * open of the volume starts empty.
 */
/*
 * Writes chunks of buf to fh from offset 0 until a write fails or max
 * chunks went; returns the bytes written and leaves the last result in
 * *last.
 */
static uint64_t conf_ram_fill_file(void *vol, uint64_t fh, unsigned char *buf,
				   int max, ssize_t *last)
{
	uint64_t total = 0;
	ssize_t n = 0;

	for (int i = 0; i < max; i++) {
		conf_ram_fill(buf, CONF_RAM_CHUNK, 1, total);
		n = conf_pwrite(vol, fh, buf, CONF_RAM_CHUNK, (off_t)total);
		if (n <= 0)
			break;
		total += (uint64_t)n;
	}
	*last = n;
	return total;
}

static void conf_ram_tmpfs(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct volfs_caller me = conf_me();
	uint64_t cap = 1 << 20, used0, total = 0, fh;
	struct conf_ramvol r;
	unsigned char *buf;
	struct statvfs sv;
	struct stat st;
	ssize_t n = 0;
	long long rc = 0;
	int files;

	conf_need_ram_tmpfs();
	buf = malloc(CONF_RAM_CHUNK);
	assert_non_null(buf);
	conf_ram_up(&r, "ramtmpfs", "1m");
	conf_expect(be->statfs(r.vol, &sv), 0);
	assert_int_equal((uint64_t)sv.f_blocks * sv.f_frsize, cap);
	assert_int_equal(sv.f_files, cap / 1024);
	used0 = conf_ram_used(r.vol);

	fh = conf_create(r.vol, "fill", O_RDWR, 0644);
	total = conf_ram_fill_file(r.vol, fh, buf, 64, &n);
	print_message("      wrote %llu bytes into a 1 MiB tmpfs volume\n",
		      (unsigned long long)total);
	conf_expect(n, -ENOSPC);
	/* Data and inodes share size=: the data's share is what the first
	 * 64 KiB of inode space leaves. */
	assert_true(total >= cap - 64 * 1024 && total + 2 * 1024 <= cap);
	assert_true(conf_ram_used(r.vol) <= cap);
	memset(buf, 0, CONF_RAM_CHUNK);
	conf_expect(conf_pread(r.vol, fh, buf, CONF_RAM_CHUNK,
			       (off_t)(total - CONF_RAM_CHUNK)),
		    CONF_RAM_CHUNK);
	assert_int_equal(conf_ram_verify(buf, CONF_RAM_CHUNK, 1,
					 total - CONF_RAM_CHUNK),
			 -1);
	conf_release(r.vol, fh);
	conf_expect(conf_path_unlink(r.vol, "fill"), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);

	/* Inodes: the inode space grows into the data's share until the
	 * two fill size=, about one inode per KiB. */
	files = conf_ram_fill_names(r.vol, &rc);
	print_message("      %d empty files filled it\n", files);
	conf_expect(rc, -ENOSPC);
	assert_true(files > 1000 && files <= 1024);
	conf_expect(be->statfs(r.vol, &sv), 0);
	assert_int_equal(sv.f_ffree, 0);
	assert_true(conf_ram_used(r.vol) <= cap);

	/* Full of inodes, it takes no more data than is left of size=. */
	fh = conf_open(r.vol, "d/empty-file-000000", O_WRONLY);
	total = conf_ram_fill_file(r.vol, fh, buf, 16, &n);
	print_message("      then %llu bytes of data\n",
		      (unsigned long long)total);
	conf_expect(n, -ENOSPC);
	assert_true(total + (uint64_t)files * 1024 <= cap);
	assert_true(conf_ram_used(r.vol) <= cap);
	conf_release(r.vol, fh);

	/* Deleted, the files give their room back to data. */
	for (int i = 0; i < files; i++) {
		char path[64];

		snprintf(path, sizeof(path), "d/empty-file-%06d", i);
		conf_expect(conf_path_unlink(r.vol, path), 0);
	}
	conf_expect(conf_path_rmdir(r.vol, "d"), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);
	fh = conf_create(r.vol, "again", O_RDWR, 0644);
	total = conf_ram_fill_file(r.vol, fh, buf, 64, &n);
	conf_expect(n, -ENOSPC);
	assert_true(total >= cap - 64 * 1024);
	conf_release(r.vol, fh);
	conf_expect(conf_path_unlink(r.vol, "again"), 0);
	conf_expect(conf_path_mkdir(r.vol, "d", 0755, &me), 0);

	/* The smallest size= (16 KiB): a page of data, the rest inodes. */
	{
		struct conf_ramvol tiny;
		long long trc = 0;
		int tfiles;

		conf_ram_up(&tiny, "ramtiny", "16k");
		conf_expect(be->statfs(tiny.vol, &sv), 0);
		assert_int_equal((uint64_t)sv.f_blocks * sv.f_frsize, 16384);
		tfiles = conf_ram_fill_names(tiny.vol, &trc);
		print_message("      %d files in a 16 KiB volume\n", tfiles);
		conf_expect(trc, -ENOSPC);
		assert_true(tfiles >= 1 && tfiles <= 12);
		assert_true(conf_ram_used(tiny.vol) <= 16384);
		conf_ram_down(&tiny);
	}

	/* Closed and opened again: empty. */
	conf_close(r.vol);
	be = conf_cur->module;
	conf_expect(conf_volume_up(&be, &r.vi, &r.vol), 0);
	assert_ptr_equal(be, conf_cur->be);
	conf_expect(conf_path_op(getattr, r.vol, "d", VOLFS_NO_FH, &st),
		    -ENOENT);
	assert_int_equal(conf_ram_used(r.vol), used0);

	/* Not root: store=auto falls back to the daemon's memory. */
	if (geteuid() == 0) {
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(conf_ram_unprivileged_child(&r.vi));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);

		char logpath[PATH_MAX];

		conf_join(logpath, sizeof(logpath), r.sdir, "grow.log");
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(conf_ram_grow_refused_child(&r.vi, logpath));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	conf_ram_down(&r);
	free(buf);
}

/* A hole costs nothing: one byte at 1 GiB takes one page and its index. */
static void conf_ram_sparse(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct conf_ramvol r;
	uint64_t used0, used1, fh, node;
	struct stat st;
	char buf[16];

	conf_need_ram();
	conf_ram_up(&r, "ramsparse", "64m");
	fh = conf_create_node(r.vol, "sp", O_RDWR, 0644, &node);
	used0 = conf_ram_used(r.vol);
	conf_expect(conf_pwrite(r.vol, fh, "x", 1, CONF_GIB), 1);
	used1 = conf_ram_used(r.vol);
	print_message("      one byte at 1 GiB uses %llu bytes\n",
		      (unsigned long long)(used1 - used0));
	/* A 4 KiB page and its few small index nodes (statfs counts 4 KiB
	 * blocks): nothing for the hole. */
	assert_true(used1 - used0 <= 2 * CONF_RAM_PAGE);
	conf_stat(r.vol, "sp", &st);
	assert_int_equal(st.st_size, CONF_GIB + 1);
	assert_int_equal(st.st_blocks, CONF_RAM_PAGE / 512);
	/* A second byte in the same page costs nothing. */
	conf_expect(conf_pwrite(r.vol, fh, "y", 1, CONF_GIB + 100), 1);
	assert_int_equal(conf_ram_used(r.vol), used1);
	conf_expect(conf_pread(r.vol, fh, buf, sizeof(buf), CONF_GIB - 4), 16);
	assert_memory_equal(buf, "\0\0\0\0x\0\0\0", 8);
	conf_expect(be->lseek(r.vol, fh, 0, SEEK_DATA), CONF_GIB);
	conf_expect(be->lseek(r.vol, fh, CONF_GIB, SEEK_HOLE),
		    CONF_GIB + 101);
	conf_expect(be->lseek(r.vol, fh, CONF_GIB + 5, SEEK_DATA),
		    CONF_GIB + 5);
	/* Shrinking frees the page and the nodes. */
	conf_expect(be->truncate(r.vol, node, fh, CONF_GIB), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);
	conf_stat(r.vol, "sp", &st);
	assert_int_equal(st.st_blocks, 0);
	conf_expect(be->lseek(r.vol, fh, 0, SEEK_DATA), -ENXIO);
	conf_expect(be->lseek(r.vol, fh, 0, SEEK_HOLE), 0);
	conf_release(r.vol, fh);
	conf_forget_node(r.vol, node);
	conf_ram_down(&r);
}

/* Punching a hole frees whole pages and zeroes the rest. */
static void conf_ram_punch(void **state)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	const struct volfs_backend *be = conf_cur->be;
	const size_t mib = 1 << 20;
	unsigned char *buf;
	struct conf_ramvol r;
	uint64_t used0, used1, used2, fh, node;
	struct stat st;

	conf_need_ram();
	buf = malloc(mib);
	assert_non_null(buf);
	conf_ram_up(&r, "rampunch", "64m");
	fh = conf_create_node(r.vol, "p", O_RDWR, 0644, &node);
	used0 = conf_ram_used(r.vol);
	conf_ram_fill(buf, mib, 4, 0);
	conf_expect(conf_pwrite(r.vol, fh, buf, mib, 0), mib);
	used1 = conf_ram_used(r.vol);
	conf_expect(be->fallocate(r.vol, fh, punch, 256 * 1024, 512 * 1024),
		    0);
	used2 = conf_ram_used(r.vol);
	/* The pages, and the index nodes that held only them. */
	assert_true(used1 - used2 >= 512 * 1024);
	assert_true(used1 - used2 <= 512 * 1024 + CONF_RAM_PAGE);
	conf_stat(r.vol, "p", &st);
	assert_int_equal(st.st_size, mib);
	assert_int_equal(st.st_blocks, 512 * 1024 / 512);
	conf_expect(be->lseek(r.vol, fh, 0, SEEK_HOLE), 256 * 1024);
	conf_expect(be->lseek(r.vol, fh, 256 * 1024, SEEK_DATA), 768 * 1024);

	/* Not on page boundaries: the partial pages stay, zeroed. */
	conf_expect(be->fallocate(r.vol, fh, punch, 100, 5000), 0);
	assert_int_equal(conf_ram_used(r.vol), used2);
	memset(buf, 0xee, mib);
	conf_expect(conf_pread(r.vol, fh, buf, mib, 0), mib);
	assert_int_equal(conf_ram_verify(buf, 100, 4, 0), -1);
	for (size_t i = 100; i < 5100; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(conf_ram_verify(buf + 5100, 256 * 1024 - 5100, 4,
					 5100),
			 -1);
	for (size_t i = 256 * 1024; i < 768 * 1024; i++)
		if (buf[i])
			fail_msg("byte %zu of the hole is %d", i, buf[i]);
	assert_int_equal(conf_ram_verify(buf + 768 * 1024, 256 * 1024, 4,
					 768 * 1024),
			 -1);

	/* Kept past the end, then dropped by truncate. */
	conf_expect(be->fallocate(r.vol, fh, FALLOC_FL_KEEP_SIZE, mib, mib),
		    0);
	assert_true(conf_ram_used(r.vol) >= used2 + mib);
	assert_true(conf_ram_used(r.vol) <= used2 + mib + CONF_RAM_PAGE);
	conf_stat(r.vol, "p", &st);
	assert_int_equal(st.st_size, mib);
	conf_expect(be->truncate(r.vol, node, fh, mib), 0);
	assert_int_equal(conf_ram_used(r.vol), used2);
	/* Only the modes tmpfs knows here. */
	conf_expect(be->fallocate(r.vol, fh, FALLOC_FL_PUNCH_HOLE, 0, 4096),
		    -EOPNOTSUPP);
	conf_expect(be->fallocate(r.vol, fh, FALLOC_FL_ZERO_RANGE, 0, 4096),
		    -EOPNOTSUPP);
	conf_expect(be->fallocate(r.vol, fh, 0, 0, 0), -EINVAL);
	/* Punching everything frees everything. */
	conf_expect(be->fallocate(r.vol, fh, punch, 0, 4 * (off_t)mib), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);
	conf_release(r.vol, fh);
	conf_forget_node(r.vol, node);
	conf_ram_down(&r);
	free(buf);
}

/*
 * An unlinked file lives on through its handles until the last release,
 * and through its node until the last forget.
 */
static void conf_ram_unlinked_open(void **state)
{
	struct volfs_caller me = conf_me();
	const struct volfs_backend *be = conf_cur->be;
	unsigned char *buf;
	struct conf_ramvol r;
	struct conf_list *l;
	struct volfs_entry e;
	uint64_t used0, used1, fh, fh2, u, dh;
	struct stat st;
	int rc;

	conf_need_ram();
	buf = malloc(256 * 1024);
	assert_non_null(buf);
	conf_ram_up(&r, "ramunlinked", "64m");
	used0 = conf_ram_used(r.vol);
	fh = conf_create_node(r.vol, "u", O_RDWR, 0644, &u);
	conf_ram_fill(buf, 256 * 1024, 5, 0);
	conf_expect(conf_pwrite(r.vol, fh, buf, 256 * 1024, 0), 256 * 1024);
	fh2 = conf_open(r.vol, "u", O_RDONLY);
	used1 = conf_ram_used(r.vol);
	conf_expect(be->unlink(r.vol, CONF_ROOT, "u"), 0);
	conf_expect(conf_path_op(getattr, r.vol, "u", VOLFS_NO_FH, &st),
		    -ENOENT);
	/* Only the name went. */
	assert_true(conf_ram_used(r.vol) + CONF_RAM_PAGE >= used1);
	memset(&st, 0, sizeof(st));
	conf_expect(be->getattr(r.vol, u, fh, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(st.st_size, 256 * 1024);
	/* Writable and readable through both handles. */
	conf_expect(conf_pwrite(r.vol, fh, "tail", 4, 256 * 1024), 4);
	memset(buf, 0, 256 * 1024);
	conf_expect(conf_pread(r.vol, fh2, buf, 256 * 1024, 0), 256 * 1024);
	assert_int_equal(conf_ram_verify(buf, 256 * 1024, 5, 0), -1);
	conf_expect(conf_pread(r.vol, fh2, buf, 16, 256 * 1024), 4);
	assert_memory_equal(buf, "tail", 4);
	conf_expect(be->truncate(r.vol, u, fh, 4096), 0);
	conf_expect(be->chmod(r.vol, u, fh, 0600), 0);
	conf_expect(be->getattr(r.vol, u, fh2, &st), 0);
	assert_int_equal(st.st_size, 4096);
	assert_int_equal(st.st_mode & 07777, 0600);
	conf_forget_node(r.vol, u);
	conf_release(r.vol, fh);
	conf_expect(conf_pread(r.vol, fh2, buf, 16, 0), 16);
	assert_int_equal(conf_ram_verify(buf, 16, 5, 0), -1);
	assert_true(conf_ram_used(r.vol) > used0);
	/* The last handle frees it. */
	conf_release(r.vol, fh2);
	assert_int_equal(conf_ram_used(r.vol), used0);

	/* With no handle, the daemon store keeps the data until the node is
	 * forgotten.  The tmpfs store gives it back at once: nothing can
	 * read it any more, and the kernel may serve the forget only after
	 * a request that needs the room. */
	fh = conf_create_node(r.vol, "u2", O_RDWR, 0644, &u);
	conf_expect(conf_pwrite(r.vol, fh, buf, 64 * 1024, 0), 64 * 1024);
	conf_release(r.vol, fh);
	conf_expect(be->unlink(r.vol, CONF_ROOT, "u2"), 0);
	conf_node_stat(r.vol, u, &st);
	if (conf_ram_daemon()) {
		assert_true(conf_ram_used(r.vol) >= used0 + 64 * 1024);
		assert_int_equal(st.st_size, 64 * 1024);
	} else {
		assert_true(conf_ram_used(r.vol) < used0 + 64 * 1024);
		assert_int_equal(st.st_size, 0);
	}
	conf_forget_node(r.vol, u);
	assert_int_equal(conf_ram_used(r.vol), used0);

	/* Replaced by a rename while open: the same. */
	conf_put(r.vol, "old", "old data");
	conf_put(r.vol, "new", "new data");
	fh = conf_open(r.vol, "new", O_RDONLY);
	conf_expect(conf_path_rename(r.vol, "old", "new", 0), 0);
	conf_expect(conf_pread(r.vol, fh, buf, 16, 0), 8);
	assert_memory_equal(buf, "new data", 8);
	conf_release(r.vol, fh);
	conf_has_data(r.vol, "new", "old data");
	conf_expect(conf_path_unlink(r.vol, "new"), 0);

	/* A removed directory that is still open. */
	conf_expect(conf_be_mkdir(r.vol, CONF_ROOT, "gone", 0755, &me, &e), 0);
	conf_expect(be->opendir(r.vol, e.node, &dh), 0);
	conf_expect(be->rmdir(r.vol, CONF_ROOT, "gone"), 0);
	conf_node_stat(r.vol, e.node, &st);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_nlink, 0);
	conf_forget_node(r.vol, e.node);
	/* Listing it shows nothing, or fails as Linux's getdents() does on
	 * a removed directory. */
	l = conf_list_new(r.vol, CONF_LIST_MAX);
	rc = conf_list_dh(r.vol, dh, 0, 0, l);
	if (rc != -ENOENT) {
		conf_expect(rc, 0);
		conf_list_ok(l);
		assert_int_equal(l->n, 0);
	}
	conf_list_free(l);
	conf_expect(be->releasedir(r.vol, dh), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);
	conf_ram_down(&r);
	free(buf);
}

/* POSIX details of names, links, modes and times. */
static void conf_ram_posix(void **state)
{
	struct volfs_caller me = conf_me();
	const struct volfs_backend *be = conf_cur->be;
	struct timespec old[2] = { { .tv_sec = 1000000000, .tv_nsec = 1 },
				   { .tv_sec = 1000000000, .tv_nsec = 2 } };
	struct timespec tv[2];
	struct conf_ramvol r;
	struct stat st, st2;
	char buf[64];
	time_t now;
	void *vol;
	uint64_t fh;

	conf_need_ram();
	vol = conf_ram_up(&r, "ramposix", "64m");
	conf_expect(conf_path_mkdir(vol, "a", 0755, &me), 0);
	conf_expect(conf_path_mkdir(vol, "b", 0755, &me), 0);
	conf_put(vol, "b/x", "x");
	conf_put(vol, "f", "f");
	conf_stat(vol, ".", &st);
	assert_int_equal(st.st_nlink, 4);

	/* rename's rules. */
	conf_expect(conf_path_rename(vol, "a", "b", 0), -ENOTEMPTY);
	conf_expect(conf_path_rename(vol, "a", "f", 0), -ENOTDIR);
	conf_expect(conf_path_rename(vol, "f", "a", 0), -EISDIR);
	conf_expect(conf_path_rename(vol, "a", "a/in", 0), -EINVAL);
	conf_expect(conf_path_mkdir(vol, "a/sub", 0755, &me), 0);
	conf_expect(conf_path_rename(vol, "a", "a/sub/in", 0), -EINVAL);
	conf_expect(conf_path_rename(vol, "a", "a/sub", 0), -EINVAL);
	conf_expect(conf_path_rename(vol, "a/sub", "a", 0), -ENOTEMPTY);
	conf_expect(conf_path_rename(vol, "a", "b", VOLFS_RENAME_NOREPLACE),
		    -EEXIST);
	conf_expect(conf_path_rename(vol, "a", "b",
			       VOLFS_RENAME_NOREPLACE |
				       VOLFS_RENAME_EXCHANGE),
		    -EINVAL);
	conf_expect(conf_path_rename(vol, "a", "a/sub", VOLFS_RENAME_EXCHANGE),
		    -EINVAL);
	conf_expect(conf_path_rename(vol, "missing/x", "z", 0), -ENOENT);
	conf_expect(conf_path_rename(vol, "f", "missing/x", 0), -ENOENT);
	conf_expect(conf_path_rename(vol, "f", "b/x/y", 0), -ENOTDIR);

	/* A directory moves: both parents' link counts follow. */
	conf_expect(conf_path_rename(vol, "a/sub", "b/sub", 0), 0);
	conf_stat(vol, "a", &st);
	assert_int_equal(st.st_nlink, 2);
	conf_stat(vol, "b", &st);
	assert_int_equal(st.st_nlink, 3);
	/* A directory replaces an empty one. */
	conf_expect(conf_path_mkdir(vol, "e", 0755, &me), 0);
	conf_stat(vol, ".", &st);
	assert_int_equal(st.st_nlink, 5);
	conf_expect(conf_path_rename(vol, "e", "a", 0), 0);
	conf_stat(vol, ".", &st);
	assert_int_equal(st.st_nlink, 4);
	conf_expect(conf_path_op(getattr, vol, "e", VOLFS_NO_FH, &st), -ENOENT);
	/* A directory and a file trade places across directories. */
	conf_expect(conf_path_rename(vol, "a", "b/x", VOLFS_RENAME_EXCHANGE), 0);
	conf_stat(vol, "a", &st);
	assert_true(S_ISREG(st.st_mode));
	conf_stat(vol, "b/x", &st);
	assert_true(S_ISDIR(st.st_mode));
	conf_stat(vol, ".", &st);
	assert_int_equal(st.st_nlink, 3);
	conf_stat(vol, "b", &st);
	assert_int_equal(st.st_nlink, 4);
	conf_has_data(vol, "a", "x");
	/* ... and the moved directory now lies below b. */
	conf_expect(conf_path_rename(vol, "b", "b/x/in", 0), -EINVAL);

	/* Two names of one file: rename between them does nothing. */
	conf_expect(conf_path_link(vol, "f", "f2"), 0);
	conf_expect(conf_path_rename(vol, "f", "f2", 0), 0);
	conf_stat(vol, "f", &st);
	conf_stat(vol, "f2", &st2);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(st.st_nlink, 2);
	conf_expect(conf_path_link(vol, "b", "b2"), -EPERM);
	conf_expect(conf_path_link(vol, "missing", "m2"), -ENOENT);
	/* Every inode has its own number. */
	conf_stat(vol, "a", &st2);
	assert_true(st.st_ino != st2.st_ino);
	conf_stat(vol, "b", &st2);
	assert_true(st.st_ino != st2.st_ino);

	/* Special files. */
	conf_expect(conf_path_mknod(vol, "chr", S_IFCHR | 0600, (dev_t)0x103, &me),
		    0);
	conf_stat(vol, "chr", &st);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, 0x103);
	conf_expect(conf_path_mknod(vol, "sock", S_IFSOCK | 0600, 0, &me), 0);
	conf_stat(vol, "sock", &st);
	assert_true(S_ISSOCK(st.st_mode));
	conf_expect(conf_path_mknod(vol, "sock", S_IFIFO | 0600, 0, &me), -EEXIST);

	/* A symlink is never followed, at the end or in the middle. */
	conf_expect(conf_path_symlink(vol, "b", "lnk", &me), 0);
	conf_expect(conf_path_op(getattr, vol, "lnk/x", VOLFS_NO_FH, &st),
		    -ENOTDIR);
	conf_expect_fail(conf_path_mkdir(vol, "lnk/new", 0755, &me));
	conf_expect(conf_path_op(getattr, vol, "b/new", VOLFS_NO_FH, &st),
		    -ENOENT);
	conf_expect(conf_path_open(vol, "lnk", O_RDONLY, &fh), -ELOOP);
	conf_expect(conf_path_op(setxattr, vol, "lnk", "user.x", "1", 1, 0), -EPERM);
	conf_expect(conf_path_op(setxattr, vol, "lnk", "trusted.x", "1", 1, 0), 0);
	conf_expect(conf_path_op(getxattr, vol, "lnk", "trusted.x", buf, sizeof(buf)),
		    1);
	conf_expect(conf_path_op(setxattr, vol, "f", "nonsense.x", "1", 1, 0),
		    -EOPNOTSUPP);
	conf_expect(conf_path_symlink(vol, "", "empty", &me), -ENOENT);

	/* Writing changes mtime and ctime, not atime; reading atime. */
	conf_expect(conf_path_op(utimens, vol, "f", VOLFS_NO_FH, old), 0);
	conf_stat(vol, "f", &st);
	assert_int_equal(st.st_atim.tv_nsec, 1);
	assert_int_equal(st.st_mtim.tv_nsec, 2);
	now = time(NULL);
	fh = conf_open(vol, "f", O_RDWR);
	conf_expect(conf_pwrite(vol, fh, "F", 1, 0), 1);
	conf_stat(vol, "f", &st);
	assert_int_equal(st.st_atim.tv_sec, 1000000000);
	assert_true(st.st_mtim.tv_sec >= now && st.st_mtim.tv_sec <= now + 5);
	assert_true(st.st_ctim.tv_sec >= now && st.st_ctim.tv_sec <= now + 5);
	conf_expect(conf_pread(vol, fh, buf, sizeof(buf), 0), 1);
	conf_stat(vol, "f", &st);
	assert_true(st.st_atim.tv_sec >= now);
	conf_release(vol, fh);
	/* chmod changes ctime only. */
	conf_expect(conf_path_op(utimens, vol, "f", VOLFS_NO_FH, old), 0);
	conf_expect(conf_path_op(chmod, vol, "f", VOLFS_NO_FH, 0600), 0);
	conf_stat(vol, "f", &st);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_true(st.st_ctim.tv_sec >= now);
	/* UTIME_NOW, UTIME_OMIT, and both omitted change nothing. */
	tv[0] = (struct timespec){ .tv_nsec = UTIME_NOW };
	tv[1] = (struct timespec){ .tv_nsec = UTIME_OMIT };
	conf_expect(conf_path_op(utimens, vol, "f", VOLFS_NO_FH, tv), 0);
	conf_stat(vol, "f", &st);
	assert_true(st.st_atim.tv_sec >= now);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	tv[0].tv_nsec = 1000000000;
	conf_expect(conf_path_op(utimens, vol, "f", VOLFS_NO_FH, tv), -EINVAL);
	/* A new name changes its directory's times. */
	conf_expect(conf_path_op(utimens, vol, "b", VOLFS_NO_FH, old), 0);
	conf_put(vol, "b/new", "n");
	conf_stat(vol, "b", &st);
	assert_true(st.st_mtim.tv_sec >= now && st.st_ctim.tv_sec >= now);
	/* A link or a rename changes the file's ctime. */
	conf_expect(conf_path_op(utimens, vol, "b/new", VOLFS_NO_FH, old), 0);
	conf_expect(conf_path_rename(vol, "b/new", "new", 0), 0);
	conf_stat(vol, "new", &st);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_true(st.st_ctim.tv_sec >= now);

	/* chown drops set-user-ID from a file, as Linux does. */
	conf_expect(conf_path_op(chmod, vol, "new", VOLFS_NO_FH, 04755), 0);
	conf_expect(conf_path_op(chown, vol, "new", VOLFS_NO_FH, 1000, (gid_t)-1), 0);
	conf_stat(vol, "new", &st);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_uid, 1000);

	/* Directories open read-only, and only that. */
	conf_expect(conf_path_open(vol, "b", O_WRONLY, &fh), -EISDIR);
	conf_expect(conf_path_open(vol, "f", O_RDONLY | O_DIRECTORY, &fh),
		    -ENOTDIR);
	/* A device node opens nothing: no such device, or none at all on
	 * the tmpfs store (mounted nodev). */
	conf_expect(conf_path_open(vol, "chr", O_RDONLY, &fh),
		    conf_ram_daemon() ? -ENXIO : -EACCES);
	fh = conf_open(vol, "b", O_RDONLY);
	conf_expect(be->read(vol, fh, buf, sizeof(buf), 0), -EISDIR);
	conf_release(vol, fh);
	/* A handle only does what it was opened for. */
	fh = conf_open(vol, "f", O_RDONLY);
	conf_expect(be->write(vol, fh, "x", 1, 0), -EBADF);
	conf_release(vol, fh);
	fh = conf_open(vol, "f", O_WRONLY | O_TRUNC);
	conf_expect(be->read(vol, fh, buf, 1, 0), -EBADF);
	conf_release(vol, fh);
	conf_stat(vol, "f", &st);
	assert_int_equal(st.st_size, 0);
	conf_ram_down(&r);
}

struct conf_ram_thread {
	pthread_t tid;
	int idx;
	void *vol;
	/* Readers stop when this is set (with __atomic builtins). */
	int *stop;
	int rc;
	char what[128];
	unsigned long reads;
};

static void *conf_ram_writer(void *arg)
{
	const struct volfs_backend *be = conf_cur->be;
	struct conf_ram_thread *t = arg;
	struct volfs_caller me = conf_me();
	const int nchunks = CONF_RAM_FILE / CONF_RAM_CHUNK;
	unsigned char *buf = malloc(CONF_RAM_CHUNK);
	struct volfs_entry e, d;
	uint64_t dir, fh;
	char name[64];
	ssize_t n;
	int rc;

	if (!buf) {
		t->rc = -ENOMEM;
		return NULL;
	}
	rc = conf_walk(t->vol, "w", &dir);
	if (rc) {
		t->rc = rc;
		snprintf(t->what, sizeof(t->what), "lookup w");
		goto out;
	}
	snprintf(name, sizeof(name), "f%d", t->idx);
	rc = conf_be_create(t->vol, dir, name, O_RDWR | O_CREAT | O_EXCL, 0644,
			    &me, &e, &fh);
	if (rc) {
		t->rc = rc;
		snprintf(t->what, sizeof(t->what), "create w/%s", name);
		goto out_dir;
	}
	/* Chunks in an order of this thread's own: 7 is prime to 64. */
	for (int i = 0; i < nchunks; i++) {
		uint64_t off = (uint64_t)((i * 7 + t->idx) % nchunks) *
			       CONF_RAM_CHUNK;

		conf_ram_fill(buf, CONF_RAM_CHUNK, t->idx, off);
		n = be->write(t->vol, fh, buf, CONF_RAM_CHUNK, (off_t)off);
		if (n != CONF_RAM_CHUNK) {
			t->rc = n < 0 ? (int)n : -EIO;
			snprintf(t->what, sizeof(t->what),
				 "write w/f%d at %llu", t->idx,
				 (unsigned long long)off);
			break;
		}
		/* Names change meanwhile. */
		snprintf(name, sizeof(name), "tmp%d-%d", t->idx, i);
		rc = conf_be_mkdir(t->vol, dir, name, 0755, &me, &d);
		if (!rc) {
			conf_forget_node(t->vol, d.node);
			rc = be->rmdir(t->vol, dir, name);
		}
		if (rc) {
			t->rc = rc;
			snprintf(t->what, sizeof(t->what), "mkdir/rmdir w/%s",
				 name);
			break;
		}
	}
	be->release(t->vol, fh);
	conf_forget_node(t->vol, e.node);
out_dir:
	conf_forget_node(t->vol, dir);
out:
	free(buf);
	return NULL;
}

static void *conf_ram_reader(void *arg)
{
	struct conf_ram_thread *t = arg;
	unsigned char *buf = malloc(CONF_RAM_CHUNK);
	uint64_t fh;
	ssize_t n;
	long bad;
	int rc;

	if (!buf) {
		t->rc = -ENOMEM;
		return NULL;
	}
	rc = conf_path_open(t->vol, "shared", O_RDONLY, &fh);
	if (rc) {
		t->rc = rc;
		snprintf(t->what, sizeof(t->what), "open shared");
		goto out;
	}
	while (!__atomic_load_n(t->stop, __ATOMIC_ACQUIRE) || t->reads < 16) {
		uint64_t off = (t->reads * 5 + (unsigned long)t->idx) % 16 *
			       CONF_RAM_CHUNK;

		n = conf_cur->be->read(t->vol, fh, buf, CONF_RAM_CHUNK,
				       (off_t)off);
		bad = conf_ram_verify(buf, CONF_RAM_CHUNK, 99, off);
		if (n != CONF_RAM_CHUNK || bad >= 0) {
			t->rc = n < 0 ? (int)n : -EIO;
			snprintf(t->what, sizeof(t->what),
				 "read shared at %llu: %zd, bad at %ld",
				 (unsigned long long)off, n, bad);
			break;
		}
		t->reads++;
	}
	conf_cur->be->release(t->vol, fh);
out:
	free(buf);
	return NULL;
}

/* Writers of different files, readers of one, all at once. */
static void conf_ram_threads(void **state)
{
	struct conf_ram_thread w[CONF_RAM_WRITERS], rd[CONF_RAM_READERS];
	struct volfs_caller me = conf_me();
	const struct volfs_backend *be = conf_cur->be;
	unsigned char *buf;
	struct conf_ramvol r;
	int stop = 0;
	uint64_t used0, fh;
	char path[64];
	struct stat st;

	conf_need_ram();
	buf = malloc(CONF_RAM_FILE);
	assert_non_null(buf);
	conf_ram_up(&r, "ramthreads", "256m");
	used0 = conf_ram_used(r.vol);
	conf_expect(conf_path_mkdir(r.vol, "w", 0755, &me), 0);
	fh = conf_create(r.vol, "shared", O_WRONLY, 0644);
	conf_ram_fill(buf, 16 * CONF_RAM_CHUNK, 99, 0);
	conf_expect(be->write(r.vol, fh, buf, 16 * CONF_RAM_CHUNK, 0),
		    16 * CONF_RAM_CHUNK);
	conf_release(r.vol, fh);

	memset(w, 0, sizeof(w));
	memset(rd, 0, sizeof(rd));
	for (int i = 0; i < CONF_RAM_READERS; i++) {
		rd[i].idx = i;
		rd[i].vol = r.vol;
		rd[i].stop = &stop;
		assert_int_equal(pthread_create(&rd[i].tid, NULL,
						conf_ram_reader, &rd[i]),
				 0);
	}
	for (int i = 0; i < CONF_RAM_WRITERS; i++) {
		w[i].idx = i;
		w[i].vol = r.vol;
		assert_int_equal(pthread_create(&w[i].tid, NULL,
						conf_ram_writer, &w[i]),
				 0);
	}
	for (int i = 0; i < CONF_RAM_WRITERS; i++)
		pthread_join(w[i].tid, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < CONF_RAM_READERS; i++)
		pthread_join(rd[i].tid, NULL);
	for (int i = 0; i < CONF_RAM_WRITERS; i++)
		if (w[i].rc)
			fail_msg("writer %d: %s: %s", i, w[i].what,
				 strerror(-w[i].rc));
	for (int i = 0; i < CONF_RAM_READERS; i++)
		if (rd[i].rc)
			fail_msg("reader %d: %s: %s", i, rd[i].what,
				 strerror(-rd[i].rc));

	/* Every file holds exactly what its writer wrote. */
	assert_true(conf_ram_used(r.vol) >=
		    used0 + (uint64_t)CONF_RAM_WRITERS * CONF_RAM_FILE);
	for (int i = 0; i < CONF_RAM_WRITERS; i++) {
		snprintf(path, sizeof(path), "w/f%d", i);
		conf_stat(r.vol, path, &st);
		assert_int_equal(st.st_size, CONF_RAM_FILE);
		fh = conf_open(r.vol, path, O_RDONLY);
		memset(buf, 0, CONF_RAM_FILE);
		conf_expect(be->read(r.vol, fh, buf, CONF_RAM_FILE, 0),
			    CONF_RAM_FILE);
		if (conf_ram_verify(buf, CONF_RAM_FILE, i, 0) >= 0)
			fail_msg("%s is wrong at byte %ld", path,
				 conf_ram_verify(buf, CONF_RAM_FILE, i, 0));
		conf_release(r.vol, fh);
		conf_expect(conf_path_unlink(r.vol, path), 0);
	}
	conf_expect(conf_path_rmdir(r.vol, "w"), 0);
	conf_expect(conf_path_unlink(r.vol, "shared"), 0);
	assert_int_equal(conf_ram_used(r.vol), used0);
	conf_ram_down(&r);
	free(buf);
}

/* A write long enough to watch: 256 MiB in one call. */
#define CONF_RAM_LONG_WRITE ((size_t)256 << 20)

struct conf_ram_long {
	void *vol;
	uint64_t fh;
	const void *buf;
	int started, done;
	ssize_t n;
};

static void *conf_ram_long_writer(void *arg)
{
	struct conf_ram_long *w = arg;

	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	w->n = conf_cur->be->write(w->vol, w->fh, w->buf, CONF_RAM_LONG_WRITE,
				   0);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * I/O to different files does not wait on a common lock: reads of one file
 * go on while a long write to another is under way.  With one lock for all
 * the files, at most the read that was running when the write began would
 * finish before it.
 */
static void conf_ram_parallel(void **state)
{
	const struct volfs_backend *be = conf_cur->be;
	struct conf_ram_long w;
	struct conf_ramvol r;
	unsigned char *buf, page[4096];
	unsigned long during = 0;
	pthread_t tid;
	uint64_t fb;

	conf_need_ram();
	buf = malloc(CONF_RAM_LONG_WRITE);
	assert_non_null(buf);
	memset(buf, 0x5a, CONF_RAM_LONG_WRITE);
	conf_ram_up(&r, "ramparallel", "1g");
	fb = conf_create(r.vol, "b", O_RDWR, 0644);
	memset(page, 'b', sizeof(page));
	conf_expect(be->write(r.vol, fb, page, sizeof(page), 0),
		    (ssize_t)sizeof(page));
	memset(&w, 0, sizeof(w));
	w.vol = r.vol;
	w.buf = buf;
	w.fh = conf_create(r.vol, "a", O_WRONLY, 0644);
	assert_int_equal(pthread_create(&tid, NULL, conf_ram_long_writer, &w),
			 0);
	while (!__atomic_load_n(&w.started, __ATOMIC_ACQUIRE))
		sched_yield();
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		conf_expect(be->read(r.vol, fb, page, sizeof(page), 0),
			    (ssize_t)sizeof(page));
		if (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE))
			during++;
	}
	pthread_join(tid, NULL);
	conf_expect(w.n, (ssize_t)CONF_RAM_LONG_WRITE);
	print_message("      %lu reads of b while a took 256 MiB\n", during);
	if (during < 100)
		fail_msg("only %lu reads of one file finished while another "
			 "was being written: the two waited on one lock",
			 during);
	assert_int_equal(page[0], 'b');
	conf_release(r.vol, w.fh);
	conf_release(r.vol, fb);
	conf_ram_down(&r);
	free(buf);
}

#define CONF_CHECK(fn) { #fn, fn }

static const struct conf_checkdef conf_checks[] = {
	CONF_CHECK(conf_write_read),
	CONF_CHECK(conf_getattr),
	CONF_CHECK(conf_append),
	CONF_CHECK(conf_truncate),
	CONF_CHECK(conf_sparse),
	CONF_CHECK(conf_mkdir_readdir),
	CONF_CHECK(conf_rmdir),
	CONF_CHECK(conf_unlink),
	CONF_CHECK(conf_rename_replace),
	CONF_CHECK(conf_rename_noreplace),
	CONF_CHECK(conf_rename_exchange),
	CONF_CHECK(conf_symlink),
	CONF_CHECK(conf_hardlink),
	CONF_CHECK(conf_xattr),
	CONF_CHECK(conf_chmod_utimens),
	CONF_CHECK(conf_chown),
	CONF_CHECK(conf_create_owner),
	CONF_CHECK(conf_create_file_excl),
	CONF_CHECK(conf_fallocate),
	CONF_CHECK(conf_statfs),
	CONF_CHECK(conf_real_fd),
	CONF_CHECK(conf_threads),
	CONF_CHECK(conf_forget_refs),
	CONF_CHECK(conf_link_same_node),
	CONF_CHECK(conf_link_sequences),
	CONF_CHECK(conf_node_unlinked),
	CONF_CHECK(conf_node_rename_above),
	CONF_CHECK(conf_deep_tree),
	CONF_CHECK(conf_readdir_resume),
	CONF_CHECK(conf_readdir_churn),
	CONF_CHECK(conf_readdir_plus),
	CONF_CHECK(conf_readdir_big),
	CONF_CHECK(conf_node_handle),
	CONF_CHECK(conf_escape),
	CONF_CHECK(conf_host_swap),
	CONF_CHECK(conf_validate),
	CONF_CHECK(conf_destroy),
	CONF_CHECK(conf_destroy_mount),
	CONF_CHECK(conf_ram_options),
	CONF_CHECK(conf_ram_root),
	CONF_CHECK(conf_ram_enospc),
	CONF_CHECK(conf_ram_metadata),
	CONF_CHECK(conf_ram_statfs),
	CONF_CHECK(conf_ram_tmpfs),
	CONF_CHECK(conf_ram_sparse),
	CONF_CHECK(conf_ram_punch),
	CONF_CHECK(conf_ram_unlinked_open),
	CONF_CHECK(conf_ram_posix),
	CONF_CHECK(conf_ram_threads),
	CONF_CHECK(conf_ram_parallel),
};

#define CONF_NCHECKS (sizeof(conf_checks) / sizeof(conf_checks[0]))

/* The temp base, and the decoy directory escape attempts aim at. */
static int conf_make_base(void)
{
	const char *tmp = getenv("TMPDIR");
	struct timespec old[2] = { { .tv_sec = 1000000000 },
				   { .tv_sec = 1000000000 } };
	char path[PATH_MAX];

	snprintf(conf_base, sizeof(conf_base), "%s/volfs-conf-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(conf_base))
		return -errno;
	/* Traversable by the other uid the checks give files to. */
	if (chmod(conf_base, 0755) < 0)
		return -errno;
	conf_join(conf_decoy, sizeof(conf_decoy), conf_base, "decoy");
	if (mkdir(conf_decoy, 0755) < 0)
		return -errno;
	conf_join(path, sizeof(path), conf_decoy, "decoy");
	conf_host_put(path, "secret\n", 0644);
	if (utimensat(AT_FDCWD, path, old, 0) < 0)
		return -errno;
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[CONF_NCHECKS];
	int found, rc, failed = 0;

	/* Each check runs through conf_run, which then checks that it gave
	 * back every reference it took. */
	for (size_t i = 0; i < CONF_NCHECKS; i++)
		tests[i] = (struct CMUnitTest){
			.name = conf_checks[i].name,
			.test_func = conf_run,
			.setup_func = conf_check_setup,
			.teardown_func = conf_check_teardown,
			.initial_state = (void *)&conf_checks[i],
		};
	umask(022);
	rc = conf_make_base();
	if (rc < 0) {
		fprintf(stderr, "cannot make a temp directory in %s: %s: set "
				"TMPDIR to a writable directory\n",
			conf_base, strerror(-rc));
		return 1;
	}
	found = volfs_backend_foreach(conf_add_found, NULL);
	if (found < 0) {
		fprintf(stderr,
			"cannot list backend modules in '%s': %s: build "
			"them, or set VOLFS_BACKEND_DIR to the directory "
			"that holds NAME.so\n",
			volfs_backend_dir(), strerror(-found));
		failed = 1;
		goto out;
	}
	for (size_t i = 0; i < sizeof(conf_extras) / sizeof(conf_extras[0]);
	     i++)
		conf_add_extra(&conf_extras[i]);
	if (conf_count == 0) {
		fprintf(stderr,
			"no backend modules in '%s': build them, or set "
			"VOLFS_BACKEND_DIR to the directory that holds "
			"NAME.so\n",
			volfs_backend_dir());
		failed = 1;
		goto out;
	}
	for (size_t i = 0; i < conf_count; i++) {
		const char *only = getenv("VOLFS_CONF_ONLY");

		conf_cur = &conf_configs[i];
		/* VOLFS_CONF_ONLY=NAME: the configurations of one backend. */
		if (only && *only && strcmp(only, conf_cur->be->name) != 0)
			continue;
		if (cmocka_run_group_tests_name(conf_cur->label, tests,
						conf_group_setup,
						conf_group_teardown))
			failed = 1;
	}
out:
	free(conf_refs);
	volfs_rm_rf(conf_base);
	return failed;
}
