/* SPDX-License-Identifier: MIT */
/*
 * libsmbclient's process-wide state, set up once for every smb volume of
 * the process: thread functions for its scratch memory, tevent's backend,
 * and the callback its debug output goes to.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libsmbclient.h>

#include "volfs/backend.h"
#include "smb_int.h"

/*
 * libsmbclient keeps per-call scratch memory (talloc stack frames) in
 * storage that is global unless Samba's utility library is given thread
 * functions; its smbc_thread_posix() does that, but is not exported by every
 * build.  So the backend hands the library pthread functions itself, through
 * smb_thread_set_functions() of libsamba-util (loaded with libsmbclient),
 * whose table has the shape of smbc_thread_impl()'s parameters (the
 * libsmbclient.h that declares it documents each).  Should that function be
 * missing, every libsmbclient call of the process is serialised instead.
 */
struct smb_thread_fns {
	int (*create_mutex)(const char *name, void **lock, const char *loc);
	void (*destroy_mutex)(void *lock, const char *loc);
	int (*lock_mutex)(void *lock, int type, const char *loc);
	int (*create_tls)(const char *name, void **key, const char *loc);
	void (*destroy_tls)(void **key, const char *loc);
	int (*set_tls)(void *key, const void *val, const char *loc);
	void *(*get_tls)(void *key, const char *loc);
};

/*
 * The library's mutexes mostly live as long as the process (some it never
 * destroys): they come from a static pool, then from malloc.
 */
static pthread_mutex_t smb_t_pool[32];
static _Atomic unsigned smb_t_pool_used;

static int smb_t_create_mutex(const char *name, void **lock, const char *loc)
{
	unsigned k = atomic_fetch_add(&smb_t_pool_used, 1);
	pthread_mutex_t *m;

	m = k < 32 ? &smb_t_pool[k] : malloc(sizeof(*m));
	if (!m)
		return ENOMEM;
	pthread_mutex_init(m, NULL);
	*lock = m;
	return 0;
}

static void smb_t_destroy_mutex(void *lock, const char *loc)
{
	pthread_mutex_t *m = lock;

	pthread_mutex_destroy(m);
	if (m < smb_t_pool || m >= smb_t_pool + 32)
		free(m);
}

static int smb_t_lock_mutex(void *lock, int type, const char *loc)
{
	/* 1: lock, 2: unlock. */
	return type == 2 ? pthread_mutex_unlock(lock)
			 : pthread_mutex_lock(lock);
}

/*
 * A thread's talloc stack frame (Samba's lib/util/talloc_stack.c, this
 * shape since 2009): freed when the thread ends, or every FUSE worker
 * thread that ever called libsmbclient would leave one behind.
 */
struct smb_talloc_stackframe {
	int size;
	int arraysize;
	void **stack;
};

static int (*smb_talloc_free)(void *ptr, const char *loc);
static pthread_key_t *smb_frames_key;

static void smb_t_free_frames(void *p)
{
	struct smb_talloc_stackframe *ts = p;

	if (smb_talloc_free && ts->stack)
		smb_talloc_free(ts->stack, __FILE__);
	free(ts);
}

/* exit() runs no thread-specific destructor for the thread calling it. */
static void smb_t_exit(void)
{
	void *ts = smb_frames_key ? pthread_getspecific(*smb_frames_key) : NULL;

	if (ts) {
		pthread_setspecific(*smb_frames_key, NULL);
		smb_t_free_frames(ts);
	}
}

static int smb_t_create_tls(const char *name, void **key, const char *loc)
{
	pthread_key_t *k = malloc(sizeof(*k));
	int rc;

	if (!k)
		return ENOMEM;
	rc = pthread_key_create(k, strcmp(name, "talloc_stackframe") == 0
					   ? smb_t_free_frames
					   : NULL);
	if (rc == 0 && strcmp(name, "talloc_stackframe") == 0 &&
	    !smb_frames_key) {
		smb_frames_key = k;
		atexit(smb_t_exit);
	}
	if (rc) {
		free(k);
		return rc;
	}
	*key = k;
	return 0;
}

static void smb_t_destroy_tls(void **key, const char *loc)
{
	if (*key) {
		pthread_key_delete(*(pthread_key_t *)*key);
		free(*key);
		*key = NULL;
	}
}

static int smb_t_set_tls(void *key, const void *val, const char *loc)
{
	return key ? pthread_setspecific(*(pthread_key_t *)key, val) : EINVAL;
}

/* Asked before the key exists too: nothing is stored then. */
static void *smb_t_get_tls(void *key, const char *loc)
{
	return key ? pthread_getspecific(*(pthread_key_t *)key) : NULL;
}

static const struct smb_thread_fns smb_thread_fns = {
	.create_mutex = smb_t_create_mutex,
	.destroy_mutex = smb_t_destroy_mutex,
	.lock_mutex = smb_t_lock_mutex,
	.create_tls = smb_t_create_tls,
	.destroy_tls = smb_t_destroy_tls,
	.set_tls = smb_t_set_tls,
	.get_tls = smb_t_get_tls,
};

static pthread_once_t smb_once = PTHREAD_ONCE_INIT;
/* Set when the library could not be made thread-safe. */
static int smb_serial;
static pthread_mutex_t smb_serial_lock = PTHREAD_MUTEX_INITIALIZER;
/* Where libsmbclient's debug lines go: the core's log of the last volume
 * opened (the same function for every volume of a process). */
static void (*_Atomic smb_logfn)(int level, const char *fmt, ...);

/*
 * Every libsmbclient call waits in an event context of its own; with
 * tevent's default backend each one makes and closes an epoll instance.
 * The poll backend needs no setup for the one socket a call waits on.
 */
static void smb_tevent_poll(void)
{
	void *h = dlopen("libtevent.so.0", RTLD_NOW | RTLD_NOLOAD);
	bool (*set)(const char *backend) = NULL;

	if (!h)
		return;
	*(void **)&set = dlsym(h, "tevent_set_default_backend");
	if (set)
		set("poll");
	dlclose(h);
}

static void smb_init_once(void)
{
	int (*set)(const struct smb_thread_fns *tf) = NULL;
	void *h = dlopen("libsamba-util.so.0", RTLD_NOW | RTLD_NOLOAD);

	if (h)
		*(void **)&set = dlsym(h, "smb_thread_set_functions");
	if (!set || set(&smb_thread_fns) != 0)
		smb_serial = 1;
	if (h)
		dlclose(h);
	h = dlopen("libtalloc.so.2", RTLD_NOW | RTLD_NOLOAD);
	if (h) {
		*(void **)&smb_talloc_free = dlsym(h, "_talloc_free");
		dlclose(h);
	}
	smb_tevent_poll();
}

void smb_lib_debug(void *priv, int level, const char *msg)
{
	void (*fn)(int, const char *, ...) = atomic_load(&smb_logfn);
	size_t len = strlen(msg);

	if (!fn || len == 0)
		return;
	while (len && msg[len - 1] == '\n')
		len--;
	fn(VOLFS_LOG_DEBUG, "libsmbclient: %.*s", (int)len, msg);
}

void smb_lib_init(void (*log)(int level, const char *fmt, ...))
{
	pthread_once(&smb_once, smb_init_once);
	atomic_store(&smb_logfn, log);
}

int smb_parallel(void)
{
	return !smb_serial;
}

void smb_lib_enter(void)
{
	if (smb_serial)
		pthread_mutex_lock(&smb_serial_lock);
}

void smb_lib_leave(void)
{
	if (smb_serial)
		pthread_mutex_unlock(&smb_serial_lock);
}
