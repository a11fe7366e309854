/* SPDX-License-Identifier: MIT */
/*
 * The FUSE glue's session: the mount, the INIT exchange (including what
 * libfuse does not know: passthrough, FUSE over io_uring), the I/O hooks
 * between libfuse and the kernel, the guard that unmounts after a crash,
 * and starting and stopping serve's janitor (src/fuse_janitor.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuse_int.h"

/* Threads per CPU serving FUSE over io_uring: one more than one, so a
 * request that waits for the disk does not hold up its CPU's queue. */
#define FS_RING_THREADS 2

/* libfuse's own messages, through volfs_log; the last error is kept so a
 * failed mount can say why. */
static __thread char fs_last_msg[512];

static void fs_fuse_log(enum fuse_log_level level, const char *fmt,
			va_list ap)
{
	char msg[512];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	if (level <= FUSE_LOG_ERR)
		snprintf(fs_last_msg, sizeof(fs_last_msg), "%s", msg);
	volfs_log((int)level, "fuse: %s", msg);
}

static void fs_free(struct volfs_fs *fs)
{
	volfs_nodes_free(fs->nodes, NULL, NULL);
	pthread_mutex_destroy(&fs->files_lock);
	pthread_mutex_destroy(&fs->vols_lock);
	pthread_cond_destroy(&fs->vols_cond);
	free(fs->mountpoint);
	free(fs);
}

static struct volfs_fs *fs_new(const char *dir,
			       const struct volfs_fs_config *cfg)
{
	struct volfs_fs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->cfg = *cfg;
	fs->started = time(NULL);
	fs->guard_fd = -1;
	fs->stop_fd = -1;
	pthread_mutex_init(&fs->files_lock, NULL);
	pthread_mutex_init(&fs->vols_lock, NULL);
	pthread_cond_init(&fs->vols_cond, NULL);
	fs->mountpoint = strdup(dir);
	if (!fs->mountpoint) {
		fs_free(fs);
		return NULL;
	}
	return fs;
}

/*
 * INIT, the first request: what the kernel offers is noted here for
 * fs_io_writev, which adds what libfuse 3.14 cannot ask for to the reply.
 */
/*
 * Once the ring serves, /dev/fuse carries only FORGETs and INTERRUPTs,
 * which wait for no answer: its readers then look again after a pause
 * instead of sleeping in read().  A reader sleeping there is woken by the
 * kernel for every FORGET (one per file deleted), from the deleting
 * process's CPU, usually across CPUs: that wakeup alone cost an unlink
 * about a fifth of its time.  The pause starts at FS_DEV_IDLE_MIN_MS after
 * something came and doubles up to FS_DEV_IDLE_MAX_MS while nothing does,
 * so an idle mount costs a wakeup a second per reader.  (volfs answers
 * every request at once: an INTERRUPT read late changes nothing.)
 */
#define FS_DEV_IDLE_MIN_MS 5
#define FS_DEV_IDLE_MAX_MS 1000

static __thread unsigned fs_dev_pause_ms;

static int fs_dev_idle(struct volfs_fs *fs, ssize_t n)
{
	struct timespec ts;

	if (n >= 0 || errno != EAGAIN || !fs->ring_want) {
		fs_dev_pause_ms = FS_DEV_IDLE_MIN_MS;
		return 0;
	}
	if (fuse_session_exited(fs->se)) {
		/* libfuse's loop then ends. */
		errno = EINTR;
		return 0;
	}
	if (fs_dev_pause_ms < FS_DEV_IDLE_MIN_MS)
		fs_dev_pause_ms = FS_DEV_IDLE_MIN_MS;
	ts.tv_sec = fs_dev_pause_ms / 1000;
	ts.tv_nsec = (long)(fs_dev_pause_ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	if (fs_dev_pause_ms < FS_DEV_IDLE_MAX_MS)
		fs_dev_pause_ms = fs_dev_pause_ms * 2 > FS_DEV_IDLE_MAX_MS
					  ? FS_DEV_IDLE_MAX_MS
					  : fs_dev_pause_ms * 2;
	return 1;
}

static ssize_t fs_io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct volfs_fs *fs = userdata;
	const struct fuse_in_header *in = buf;
	const size_t need = sizeof(*in) + offsetof(struct fuse_init_in, flags) +
			    sizeof(uint32_t);
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (fs_dev_idle(fs, n));

	if (n >= (ssize_t)need && in->opcode == FUSE_INIT &&
	    !__atomic_load_n(&fs->init_unique, __ATOMIC_ACQUIRE)) {
		const struct fuse_init_in *arg =
			(const void *)((const char *)buf + sizeof(*in));

		fs->init_flags = arg->flags;
		if ((arg->flags & FUSE_INIT_EXT) &&
		    n >= (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in,
							  flags2) +
				   sizeof(uint32_t)))
			fs->init_flags2 = arg->flags2;
		__atomic_store_n(&fs->init_unique, in->unique,
				 __ATOMIC_RELEASE);
	}
	return n;
}

/*
 * The INIT reply, before it goes out: asks for FUSE_HANDLE_KILLPRIV_V2
 * (volfs clears set-ID bits itself, see fs_kill_priv, and the kernel stops
 * sending a GETXATTR of security.capability before every write) and
 * FUSE_PARALLEL_DIROPS (lookups and listings of one directory may run at
 * once: the node table and the backends lock for themselves), where the
 * kernel offered them.
 */
static struct volfs_ring *fs_ring_prepare(struct volfs_fs *fs, int fd);

static void fs_init_reply(struct volfs_fs *fs, int fd,
			  struct fuse_init_out *out)
{
	uint32_t add = 0;

	if (fs->init_flags & FUSE_HANDLE_KILLPRIV_V2)
		add |= FUSE_HANDLE_KILLPRIV_V2;
	if (fs->init_flags & FUSE_PARALLEL_DIROPS)
		add |= FUSE_PARALLEL_DIROPS;
	fs->killpriv = !!(add & FUSE_HANDLE_KILLPRIV_V2);
	out->flags |= add;
	/*
	 * Passthrough, for a daemon that may register backing files (root)
	 * and without the writeback cache (which it replaces); which files
	 * use it is fs_backing_get()'s choice, per volume.  One level of
	 * stacking: the backing files are on ordinary file systems.
	 */
	if ((fs->init_flags & FUSE_INIT_EXT) && (out->flags & FUSE_INIT_EXT) &&
	    (fs->init_flags2 & FS_INIT_PASSTHROUGH2) && !fs->writeback &&
	    geteuid() == 0) {
		out->flags2 |= FS_INIT_PASSTHROUGH2;
		out->unused[0] = 1; /* max_stack_depth */
		fs->passthrough = 1;
	}
	/*
	 * The ring is made ready before the reply asks for it: once asked,
	 * the kernel holds every request until the ring serves or fails to
	 * register, so a ring that cannot even be set up (io_uring disabled,
	 * no memory) must not be asked for.
	 */
	if (fs->ring_want && (out->flags & FUSE_INIT_EXT)) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t pages = (out->flags & FUSE_MAX_PAGES) ? out->max_pages
							     : 32;

		/* The kernel's own rule for the payload buffer's size. */
		fs->ring_payload = 8192;
		if (out->max_write > fs->ring_payload)
			fs->ring_payload = out->max_write;
		if (pages * page > fs->ring_payload)
			fs->ring_payload = pages * page;
		fs->ring_ready = fs_ring_prepare(fs, fd);
		if (fs->ring_ready)
			out->flags2 |= VOLFS_RING_INIT_FLAG2;
		else
			fs->ring_want = 0;
	} else {
		fs->ring_want = 0;
	}
	volfs_log(VOLFS_LOG_DEBUG, "INIT: also asked for%s%s%s%s",
		  fs->killpriv ? " handle_killpriv_v2" : "",
		  (add & FUSE_PARALLEL_DIROPS) ? " parallel_dirops" : "",
		  fs->passthrough ? " passthrough" : "",
		  fs->ring_want ? " over_io_uring" : "");
}

/*
 * A daemon killed while the ring serves would leave its mount behind: the
 * kernel ends the ring's commands, and with them the connection, only once
 * the daemon's files are gone, so fusermount3's auto_unmount finds the mount
 * not yet disconnected (its test is ENOTCONN) and leaves it.  A child that
 * holds nothing but a pipe from the daemon waits for the daemon to go: a
 * byte on the pipe is a clean stop; end of file is a death, after which it
 * unmounts the mount once it fails as a dead one does.  Only system calls
 * after fork: the daemon has threads.
 */
static _Noreturn void fs_guard_child(int fd, const char *mnt)
{
	char c;
	ssize_t n;

	if (dup2(fd, 3) < 0)
		_exit(1);
	close_range(4, ~0u, 0);
	for (int i = 0; i < 3; i++)
		close(i);
	if (chdir("/") < 0)
		_exit(1);
	do
		n = read(3, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0)
		_exit(0);
	do
		n = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (n < 0 && errno == EINTR);
	/* Opened: unmounted already, or mounted anew.  The other errors are
	 * how requests to a dead ring end. */
	if (n < 0 &&
	    (errno == ENOTCONN || errno == ECONNABORTED || errno == ECANCELED ||
	     errno == EIO) &&
	    umount2(mnt, MNT_DETACH) < 0 && errno == EPERM)
		execlp("fusermount3", "fusermount3", "-u", "-z", "--", mnt,
		       (char *)NULL);
	_exit(0);
}

static void fs_ring_guard(struct volfs_fs *fs)
{
	const char *what = "pipe";
	int p[2], e;
	pid_t pid = -1;

	if (pipe2(p, O_CLOEXEC) == 0) {
		what = "fork";
		pid = fork();
		if (pid == 0)
			fs_guard_child(p[0], fs->mountpoint);
		e = errno;
		close(p[0]);
		if (pid > 0) {
			fs->guard_pid = pid;
			fs->guard_fd = p[1];
			return;
		}
		close(p[1]);
		errno = e;
	}
	volfs_log(VOLFS_LOG_WARNING,
		  "%s: no guard for a crash (%s: %s): should this daemon be "
		  "killed, undo its mount with 'umount -l %s'",
		  fs->mountpoint, what, strerror(errno), fs->mountpoint);
}

/* A clean stop, the mount undone: the guard goes without a look. */
static void fs_ring_guard_release(struct volfs_fs *fs)
{
	char c = 1;

	if (fs->guard_pid <= 0)
		return;
	if (write(fs->guard_fd, &c, 1) != 1)
		volfs_log(VOLFS_LOG_WARNING, "%s: guard: %s", fs->mountpoint,
			  strerror(errno));
	close(fs->guard_fd);
	while (waitpid(fs->guard_pid, NULL, 0) < 0 && errno == EINTR)
		;
	fs->guard_pid = 0;
	fs->guard_fd = -1;
}

/* Once the INIT reply is in: the ring's threads register with the kernel,
 * which then sends requests their way. */
static struct volfs_ring *fs_ring_prepare(struct volfs_fs *fs, int fd)
{
	char why[200];
	struct volfs_ring *r = volfs_ring_prepare(
		fs->se, fd, FS_RING_THREADS, fs->ring_payload, why, sizeof(why));

	if (!r)
		volfs_log(VOLFS_LOG_WARNING,
			  "%s: FUSE over io_uring not used: %s; requests go "
			  "through /dev/fuse (-o io_uring=off stops trying)",
			  fs->mountpoint, why);
	return r;
}

/* The INIT reply is written (ok) or could not be: the prepared ring
 * registers and serves, or goes. */
static void fs_ring_start(struct volfs_fs *fs, int fd, int ok)
{
	char why[200];
	unsigned queues, threads;
	struct volfs_ring *r = fs->ring_ready;

	fs->ring_ready = NULL;
	if (!r)
		return;
	if (!ok || volfs_ring_go(r, why, sizeof(why)) < 0) {
		if (ok)
			volfs_log(VOLFS_LOG_WARNING,
				  "%s: FUSE over io_uring not used: %s; "
				  "requests go through /dev/fuse (-o "
				  "io_uring=off stops trying)",
				  fs->mountpoint, why);
		volfs_ring_stop(r);
		fs->ring_want = 0;
		return;
	}
	volfs_ring_shape(r, &queues, &threads);
	fs_ring_guard(fs);
	/* The rest of /dev/fuse's traffic is read without sleeping in the
	 * kernel (fs_dev_idle). */
	{
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			volfs_log(VOLFS_LOG_WARNING,
				  "%s: /dev/fuse: cannot stop blocking: %s (each "
				  "file deleted then costs a reader's wake-up)",
				  fs->mountpoint, strerror(errno));
	}
	volfs_log(VOLFS_LOG_INFO,
		  "%s: FUSE over io_uring: %u queue(s), %u thread(s) each",
		  fs->mountpoint, queues, threads);
	__atomic_store_n(&fs->ring, r, __ATOMIC_RELEASE);
}

static void fs_ring_stop(struct volfs_fs *fs)
{
	struct volfs_ring *r = __atomic_exchange_n(&fs->ring, NULL,
						  __ATOMIC_ACQ_REL);

	volfs_ring_stop(r);
}

static ssize_t fs_io_writev(int fd, struct iovec *iov, int count,
			    void *userdata)
{
	struct volfs_fs *fs = userdata;
	uint64_t init = __atomic_load_n(&fs->init_unique, __ATOMIC_ACQUIRE);
	int is_init = 0;
	ssize_t n;

	/* An open or create reply (its fuse_open_out last) of a file with a
	 * backing file: the kernel is to read and write that itself. */
	if (fs_tl_backing && count == 2 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= sizeof(struct fuse_open_out) &&
	    ((const struct fuse_out_header *)iov[0].iov_base)->error == 0) {
		struct fuse_open_out *oo =
			(void *)((char *)iov[1].iov_base + iov[1].iov_len -
				 sizeof(struct fuse_open_out));

		/* Nothing of the FUSE inode's own page cache (keep_cache)
		 * goes with it. */
		oo->open_flags = (oo->open_flags & (FOPEN_DIRECT_IO |
						    FOPEN_NOFLUSH)) |
				 FS_FOPEN_PASSTHROUGH;
		oo->padding = (uint32_t)fs_tl_backing;
		fs_tl_backing = 0;
	}

	if (init && count >= 2 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header)) {
		const struct fuse_out_header *out = iov[0].iov_base;

		if (out->unique == init) {
			if (out->error == 0 &&
			    iov[1].iov_len >= sizeof(struct fuse_init_out))
				fs_init_reply(fs, fd, iov[1].iov_base);
			__atomic_store_n(&fs->init_unique, UINT64_MAX,
					 __ATOMIC_RELEASE);
			is_init = 1;
		}
	}
	/* An answer to a request that came through the ring goes back that
	 * way (the ring knows its own by the thread and the unique). */
	if (fs->ring_want) {
		n = volfs_ring_reply(
			__atomic_load_n(&fs->ring, __ATOMIC_ACQUIRE), iov,
			count);
		if (n != 0)
			return n;
	}
	n = writev(fd, iov, count);
	if (is_init)
		fs_ring_start(fs, fd, n >= 0);
	return n;
}

static ssize_t fs_io_splice_receive(int fdin, off_t *offin, int fdout,
				    off_t *offout, size_t len,
				    unsigned int flags, void *userdata)
{
	ssize_t n;

	do
		n = splice(fdin, offin, fdout, offout, len, flags);
	while (fs_dev_idle(userdata, n));
	return n;
}

static ssize_t fs_io_splice_send(int fdin, off_t *offin, int fdout,
				 off_t *offout, size_t len, unsigned int flags,
				 void *userdata)
{
	return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io fs_io = {
	.read = fs_io_read,
	.writev = fs_io_writev,
	.splice_receive = fs_io_splice_receive,
	.splice_send = fs_io_splice_send,
};

/*
 * Answers the kernel's first request, INIT, which it sent while mounting:
 * once this returns the mount answers, with the ring serving where it was
 * asked for (the kernel holds every other request until INIT is answered).
 */
static int fs_answer_init(struct volfs_fs *fs, const char *what,
			  struct volfs_err *err)
{
	struct fuse_buf buf = { 0 };
	int n = fuse_session_receive_buf(fs->se, &buf);

	if (n > 0)
		fuse_session_process_buf(fs->se, &buf);
	free(buf.mem);
	if (n <= 0)
		return volfs_err_set(err, n < 0 ? n : -EIO,
				     "cannot start serving %s: the kernel's "
				     "first FUSE request did not come: %s",
				     what, strerror(n < 0 ? -n : EIO));
	return 0;
}

/*
 * Starts the FUSE session of fs (its source shown as fsname in the mount
 * table, "what" in messages), mounts it at dir and answers INIT.
 */
static int fs_start(struct volfs_fs *fs, const char *fsname, const char *what,
		    const char *dir, struct volfs_err *err)
{
	const struct volfs_fs_config *cfg = &fs->cfg;
	struct fuse_args args;
	char opts[512];
	char *argv[4];
	int argc = 0, rc;

	/* The kernel applied the caller's umask to every mode it sends; the
	 * daemon's own must not mask them again. */
	umask(0);
	fuse_set_log_func(fs_fuse_log);
	snprintf(opts, sizeof(opts),
		 "fsname=%s,subtype=volfs,default_permissions,auto_unmount"
		 "%s%s%s",
		 fsname, cfg->allow_other ? ",allow_other" : "",
		 cfg->readonly ? ",ro" : "", cfg->noexec ? ",noexec" : "");
	argv[argc++] = "volfs";
	argv[argc++] = "-o";
	argv[argc++] = opts;
	if (cfg->debug) {
		argv[argc++] = "-d";
		/* libfuse prints each request at debug level. */
		if (volfs_log_level() < VOLFS_LOG_DEBUG)
			volfs_log_set_level(VOLFS_LOG_DEBUG);
	}
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	fs_last_msg[0] = '\0';
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	/* Parsing may have replaced argv by copies of its own. */
	fuse_opt_free_args(&args);
	if (!fs->se)
		return volfs_err_set(err, -EINVAL,
				     "cannot start a FUSE session for %s: %s",
				     what,
				     fs_last_msg[0] ? fs_last_msg
						    : "unknown error");
	if (fuse_session_mount(fs->se, dir) != 0) {
		fuse_session_destroy(fs->se);
		fs->se = NULL;
		return volfs_err_set(err, -EIO, "cannot mount %s on %s: %s",
				     what, dir,
				     fs_last_msg[0] ? fs_last_msg
						    : "the FUSE mount failed "
						      "(is /dev/fuse usable "
						      "and fuse3 installed?)");
	}
	fs->mounted = 1;
	/* Same descriptor, through fs_io: without it the mount works,
	 * only slower. */
	if (fuse_session_custom_io(fs->se, &fs_io, fuse_session_fd(fs->se)) !=
	    0)
		volfs_log(VOLFS_LOG_WARNING,
			  "%s: cannot watch FUSE INIT: every write will cost "
			  "two requests", what);
	rc = fs_answer_init(fs, what, err);
	if (rc < 0) {
		fs_ring_stop(fs);
		fuse_session_unmount(fs->se);
		fuse_session_destroy(fs->se);
		fs->se = NULL;
		fs->mounted = 0;
		fs_ring_guard_release(fs);
	}
	return rc;
}

int volfs_fs_mount(struct volfs_open_volume *ov, const char *dir,
		   const struct volfs_fs_config *cfg, struct volfs_fs **out,
		   struct volfs_err *err)
{
	char what[VOLFS_NAME_MAX + 16];
	struct volfs_fs *fs;
	int rc;

	fs = fs_new(dir, cfg);
	if (fs)
		fs->single = fs_vol_new(fs, ov, NULL);
	if (fs && fs->single)
		fs->nodes = volfs_nodes_new(&fs->single->nv);
	if (!fs || !fs->single || !fs->nodes) {
		if (fs) {
			free(fs->single);
			fs_free(fs);
		}
		return volfs_err_set(err, -ENOMEM, "out of memory");
	}
	snprintf(what, sizeof(what), "volume '%s'", ov->row.name);
	rc = fs_start(fs, ov->row.name, what, dir, err);
	if (rc < 0) {
		free(fs->single);
		fs_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

int volfs_fs_mount_all(const struct volfs_fs_source *src, const char *dir,
		       const struct volfs_fs_config *cfg,
		       struct volfs_fs **out, struct volfs_err *err)
{
	struct volfs_fs *fs;
	int rc;

	fs = fs_new(dir, cfg);
	if (fs)
		fs->nodes = volfs_nodes_new(NULL);
	if (!fs || !fs->nodes) {
		if (fs)
			fs_free(fs);
		return volfs_err_set(err, -ENOMEM, "out of memory");
	}
	fs->src = src;
	rc = fs_start(fs, "volfs", "the volfs volumes", dir, err);
	if (rc < 0) {
		fs_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

int volfs_fs_run(struct volfs_fs *fs)
{
	struct fuse_loop_config *lc;
	int rc;

	if (fuse_set_signal_handlers(fs->se) != 0)
		return -EIO;
	lc = fuse_loop_cfg_create();
	if (!lc) {
		fuse_remove_signal_handlers(fs->se);
		return -ENOMEM;
	}
	if (fs->cfg.max_threads)
		fuse_loop_cfg_set_max_threads(lc, fs->cfg.max_threads);
	else if (fs->src)
		fuse_loop_cfg_set_max_threads(lc, FS_SERVE_THREADS);
	if (fs->src && (rc = fs_janitor_start(fs)) < 0)
		volfs_log(VOLFS_LOG_WARNING,
			  "%s: cannot start the janitor: %s: unused and "
			  "removed volumes stay open",
			  fs->mountpoint, strerror(-rc));
	rc = fuse_session_loop_mt(fs->se, lc);
	fs_ring_stop(fs);
	fs_janitor_stop(fs);
	fuse_loop_cfg_destroy(lc);
	fuse_remove_signal_handlers(fs->se);
	return rc < 0 ? rc : 0;
}

static void fs_drop_node(struct volfs_nodes_vol *nv, uint64_t bnode,
			 uint64_t refs, void *ctx)
{
	(void)ctx;
	fs_bforget(fs_vol_of(nv), bnode, refs);
}

void volfs_fs_destroy(struct volfs_fs *fs)
{
	if (!fs)
		return;
	fs_ring_stop(fs);
	if (fs->mounted)
		fuse_session_unmount(fs->se);
	fuse_session_destroy(fs->se);
	fs_ring_guard_release(fs);
	/* The connection and its backing files are gone with it. */
	fs->se = NULL;
	/* Handles the kernel never released (a forced exit), and the nodes
	 * it never forgot: their backends get everything back before their
	 * volumes close. */
	while (fs->files)
		fs_file_free(fs, fs->files);
	while (fs->dirs)
		fs_dir_free(fs, fs->dirs);
	volfs_nodes_free(fs->nodes, fs_drop_node, NULL);
	fs->nodes = NULL;
	while (fs->vols) {
		struct fs_vol *v = fs->vols;

		fs->vols = v->next;
		volfs_volume_close(v->ov);
		free(v->name);
		free(v->id);
		free(v);
	}
	free(fs->vhash);
	free(fs->single);
	fs_free(fs);
}
