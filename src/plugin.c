/* SPDX-License-Identifier: MIT */
/*
 * Docker's volume-driver protocol: each request's JSON (parsed with
 * jansson) answered from the catalog.  plugin_http.c serves it with
 * libmicrohttpd, one thread per connection (a slow client or a slow Mount
 * holds only its own thread, and plugin_sock.c keeps every connection to a
 * deadline).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "plugin.h"
#include "plugin_int.h"
#include "volfs/catalog.h"
#include "volfs/loader.h"
#include "volfs/options.h"
#include "volfs/util.h"
#include "volfs/volume.h"

/* A Mount ID is 64 hex digits; allow some room, not a novel. */
#define PLUGIN_MAX_ID 256

/* A reference change waiting for its group commit.  Its thread sleeps on
 * its own condition: woken when its change is committed, or when it is
 * first in the queue and the committer before it has finished. */
struct plugin_refreq {
	struct volfs_refop op;
	int done;
	pthread_cond_t wake;
	struct plugin_refreq *next;
};

/* Most reference changes committed together. */
#define PLUGIN_BATCH 256

static struct volfs_catalog *plugin_cat_get(struct volfs_plugin *p,
					    struct volfs_err *err)
{
	struct volfs_catalog *cat = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->npool > 0)
		cat = p->pool[--p->npool];
	pthread_mutex_unlock(&p->lock);
	if (cat)
		return cat;
	if (volfs_catalog_open(p->root, &cat, err) < 0)
		return NULL;
	return cat;
}

static void plugin_cat_put(struct volfs_plugin *p, struct volfs_catalog *cat)
{
	pthread_mutex_lock(&p->lock);
	if (p->npool < PLUGIN_POOL_KEEP) {
		p->pool[p->npool++] = cat;
		cat = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	if (cat)
		volfs_catalog_close(cat);
}

static void plugin_reply_err(struct plugin_reply *r, unsigned status,
			     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Replaces every byte of s that is not part of valid UTF-8 by '?': JSON
 * strings must be UTF-8, and a message may quote what a client sent or be
 * cut in the middle of a character.
 */
static void plugin_utf8_fix(char *s)
{
	/* Lead byte mask, payload mask and smallest code point by length. */
	static const struct {
		unsigned char mask, lead, bits;
		uint32_t min;
	} seq[] = {
		{ 0xe0, 0xc0, 0x1f, 0x80 },
		{ 0xf0, 0xe0, 0x0f, 0x800 },
		{ 0xf8, 0xf0, 0x07, 0x10000 },
	};
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = 0, i = 1;
		uint32_t cp = 0;

		if (*p < 0x80) {
			p++;
			continue;
		}
		for (size_t k = 0; k < 3 && !n; k++)
			if ((*p & seq[k].mask) == seq[k].lead) {
				n = k + 2;
				cp = *p & seq[k].bits;
			}
		for (; n && i < n && (p[i] & 0xc0) == 0x80; i++)
			cp = cp << 6 | (p[i] & 0x3fu);
		/* Truncated, overlong, a surrogate or past U+10FFFF. */
		if (!n || i < n || cp < seq[n - 2].min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp < 0xe000)) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

static void plugin_reply_err(struct plugin_reply *r, unsigned status,
			     const char *fmt, ...)
{
	char msg[VOLFS_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	plugin_utf8_fix(msg);
	json_decref(r->json);
	r->status = status;
	r->json = json_pack("{s:s}", "Err", msg);
}

/* A success: obj plus an empty "Err", as Docker's own drivers answer. */
static void plugin_reply_ok(struct plugin_reply *r, json_t *obj)
{
	if (!obj)
		obj = json_object();
	if (obj)
		json_object_set_new(obj, "Err", json_string(""));
	r->status = MHD_HTTP_OK;
	r->json = obj;
}

/*
 * The string member key of req; NULL with an error reply when it is
 * missing, not a string, or (for a name) empty.
 */
static const char *plugin_str(json_t *req, const char *key,
			      struct plugin_reply *r)
{
	json_t *v = json_object_get(req, key);

	if (!v) {
		plugin_reply_err(r, MHD_HTTP_BAD_REQUEST,
				 "malformed request: no \"%s\" given", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		plugin_reply_err(r, MHD_HTTP_BAD_REQUEST,
				 "malformed request: \"%s\" must be a string",
				 key);
		return NULL;
	}
	return json_string_value(v);
}

/* The volume name of req, checked as volfs checks every name. */
static const char *plugin_name(json_t *req, struct plugin_reply *r)
{
	struct volfs_err err = { "" };
	const char *name = plugin_str(req, "Name", r);

	if (!name)
		return NULL;
	/* A name that can never be a volume is a bad request. */
	if (volfs_name_check(name, &err) < 0) {
		plugin_reply_err(r, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
		return NULL;
	}
	return name;
}

static json_t *plugin_mountpoint(struct volfs_plugin *p, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", p->mountpoint, name);
	return json_string(path);
}

static void plugin_activate(struct volfs_plugin *p, json_t *req,
			    struct plugin_reply *r)
{
	(void)p;
	(void)req;
	r->status = MHD_HTTP_OK;
	r->json = json_pack("{s:[s]}", "Implements", "VolumeDriver");
}

static void plugin_capabilities(struct volfs_plugin *p, json_t *req,
				struct plugin_reply *r)
{
	(void)p;
	(void)req;
	plugin_reply_ok(r, json_pack("{s:{s:s}}", "Capabilities", "Scope",
				     "local"));
}

/*
 * Whether a Create is Docker's for an anonymous volume (`docker run -v
 * /path`): Docker names those with 64 lowercase hex digits and sends no
 * options.
 */
static int plugin_is_anonymous(const char *name, json_t *opts)
{
	size_t i;

	if (opts && json_object_size(opts) > 0)
		return 0;
	for (i = 0; name[i]; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return i == 64;
}

/*
 * Refuses an option that would make the daemon (root) read a host file
 * of the caller's choosing: whoever may talk to the socket could read any
 * file, or send the secrets in it to a server of theirs.
 */
static int plugin_host_file_opt(const char *name, const char *backend,
				const struct volfs_kvlist *opts,
				struct plugin_reply *r)
{
	const struct volfs_backend *be = NULL;

	/* An unknown backend is create's to refuse, with its message. */
	volfs_backend_load(backend, &be, NULL);
	for (size_t i = 0; i < opts->n; i++) {
		if (!volfs_opt_names_host_file(be, opts->v[i].key))
			continue;
		plugin_reply_err(r, MHD_HTTP_OK,
				 "cannot create volume '%s': option '%s' names "
				 "a file on the host, which the Docker plugin "
				 "never reads for its callers; create the "
				 "volume on the host ('volfs create -o %s=FILE "
				 "%s'), then use it by name",
				 name, opts->v[i].key, opts->v[i].key, name);
		return -EPERM;
	}
	return 0;
}

/* Create: Opts are the CLI's -o options; "backend" picks the backend. */
static void plugin_create(struct volfs_plugin *p, json_t *req,
			  struct plugin_reply *r)
{
	struct volfs_err err = { "" };
	struct volfs_kvlist opts = { 0 };
	const char *backend = VOLFS_DEFAULT_BACKEND;
	struct volfs_catalog *cat;
	const char *name, *key;
	json_t *o, *v;
	int anonymous, rc;

	name = plugin_name(req, r);
	if (!name)
		return;
	o = json_object_get(req, "Opts");
	if (o && !json_is_null(o) && !json_is_object(o)) {
		plugin_reply_err(r, MHD_HTTP_BAD_REQUEST,
				 "malformed request: \"Opts\" must be an "
				 "object of strings");
		return;
	}
	anonymous = plugin_is_anonymous(name, o);
	json_object_foreach(o, key, v)
	{
		if (!json_is_string(v)) {
			plugin_reply_err(r, MHD_HTTP_OK,
					 "cannot create volume '%s': option "
					 "'%s' must be a string",
					 name, key);
			goto out;
		}
		if (strcmp(key, "backend") == 0) {
			backend = json_string_value(v);
			continue;
		}
		if (volfs_kvlist_set(&opts, key, json_string_value(v)) < 0) {
			plugin_reply_err(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
					 "cannot create volume '%s': out of "
					 "memory",
					 name);
			goto out;
		}
	}
	if (plugin_host_file_opt(name, backend, &opts, r) < 0)
		goto out;
	cat = plugin_cat_get(p, &err);
	if (!cat) {
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
		goto out;
	}
	/* Not under wlock: the backend may take its time (a server to
	 * reach, storage to make) and Mounts must not wait for it; SQLite
	 * orders the few catalog writes. */
	if (anonymous)
		rc = volfs_volume_create_anonymous(cat, name, backend, NULL,
						   0, &err);
	else
		rc = volfs_volume_create(cat, name, backend, opts.v, opts.n,
					 NULL, 0, NULL, &err);
	plugin_cat_put(p, cat);
	if (rc < 0) {
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
		goto out;
	}
	volfs_log(VOLFS_LOG_INFO, "docker created %svolume '%s' (%s)",
		  anonymous ? "anonymous " : "", name, backend);
	plugin_reply_ok(r, NULL);
out:
	volfs_kvlist_release(&opts);
}

/*
 * Applies one reference change through the group commit: it is queued, and
 * whichever thread finds no commit running commits the whole queue in one
 * transaction, so N containers starting at once cost one commit.  Each
 * thread is woken once, by name: its change is done, or it is the next
 * committer.  Returns op->rc, with its message in err.
 */
static int plugin_refop(struct volfs_plugin *p, struct volfs_catalog *cat,
			struct plugin_refreq *me, struct volfs_err *err)
{
	struct volfs_refop *ops[PLUGIN_BATCH];
	struct plugin_refreq *batch[PLUGIN_BATCH];

	pthread_cond_init(&me->wake, NULL);
	me->done = 0;
	me->next = NULL;
	pthread_mutex_lock(&p->qlock);
	*p->queue_tail = me;
	p->queue_tail = &me->next;
	while (!me->done) {
		struct volfs_err berr = { "" };
		size_t n = 0;
		int rc;

		if (p->committing) {
			pthread_cond_wait(&me->wake, &p->qlock);
			continue;
		}
		p->committing = 1;
		for (; p->queue && n < PLUGIN_BATCH; n++) {
			batch[n] = p->queue;
			ops[n] = &batch[n]->op;
			p->queue = p->queue->next;
		}
		if (!p->queue)
			p->queue_tail = &p->queue;
		pthread_mutex_unlock(&p->qlock);
		pthread_mutex_lock(&p->wlock);
		rc = volfs_catalog_refs(cat, ops, n, &berr);
		pthread_mutex_unlock(&p->wlock);
		for (size_t i = 0; i < n && rc < 0; i++) {
			ops[i]->rc = rc;
			ops[i]->err = berr;
		}
		pthread_mutex_lock(&p->qlock);
		p->committing = 0;
		for (size_t i = 0; i < n; i++) {
			batch[i]->done = 1;
			if (batch[i] != me)
				pthread_cond_signal(&batch[i]->wake);
		}
		/* What queued meanwhile is the next committer's. */
		if (p->queue)
			pthread_cond_signal(&p->queue->wake);
	}
	pthread_mutex_unlock(&p->qlock);
	pthread_cond_destroy(&me->wake);
	if (me->op.rc < 0)
		volfs_err_set(err, me->op.rc, "%s", me->op.err.msg);
	return me->op.rc;
}

/* Whether every attachment of volume name is a Docker reference. */
static int plugin_only_docker(struct volfs_catalog *cat, const char *name)
{
	struct volfs_attachment *a;
	int n, only = 1;

	n = volfs_catalog_attachments(cat, name, &a, NULL);
	if (n <= 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (!volfs_is_docker_ref(a[i].consumer))
			only = 0;
	volfs_attachments_free(a, (size_t)n);
	return only;
}

static void plugin_remove(struct volfs_plugin *p, json_t *req,
			  struct plugin_reply *r)
{
	struct volfs_err err = { "" }, rerr = { "" };
	struct volfs_catalog *cat;
	const char *name;
	int rc;

	name = plugin_name(req, r);
	if (!name)
		return;
	cat = plugin_cat_get(p, &err);
	if (!cat) {
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
		return;
	}
	/* Not under wlock: destroy() deletes data and reconciling asks
	 * Docker, neither of which Mounts may wait for. */
	rc = volfs_volume_remove(cat, name, 0, &err);
	/* Docker removes only volumes no container of its own uses: Docker
	 * references still held are stale (a restart of dockerd loses its
	 * Unmounts).  Ask Docker, then try once more. */
	if (rc == -EBUSY && plugin_only_docker(cat, name)) {
		if (volfs_docker_reconcile(cat, p->docker_host, &rerr) > 0)
			rc = volfs_volume_remove(cat, name, 0, &err);
		else if (rerr.msg[0])
			volfs_log(VOLFS_LOG_WARNING, "%s", rerr.msg);
	}
	plugin_cat_put(p, cat);
	if (rc < 0) {
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
		return;
	}
	volfs_log(VOLFS_LOG_INFO, "docker removed volume '%s'", name);
	plugin_reply_ok(r, NULL);
}

/* The Mount ID of req, checked: printable, not empty, not huge. */
static const char *plugin_id(json_t *req, struct plugin_reply *r)
{
	const char *id = plugin_str(req, "ID", r);

	if (!id)
		return NULL;
	if (!*id || strlen(id) > PLUGIN_MAX_ID) {
		plugin_reply_err(r, MHD_HTTP_BAD_REQUEST,
				 "malformed request: \"ID\" must be 1 to %d "
				 "characters",
				 PLUGIN_MAX_ID);
		return NULL;
	}
	for (const char *c = id; *c; c++)
		if (*c <= ' ' || *c == 0x7f) {
			plugin_reply_err(r, MHD_HTTP_BAD_REQUEST,
					 "malformed request: \"ID\" holds a "
					 "control character or a space");
			return NULL;
		}
	return id;
}

/*
 * Makes sure the volume answers under the serve mount.  stat() goes through
 * the kernel to this process's own FUSE threads, which open the volume on
 * first lookup; when that fails, opening it here yields the backend's own
 * message.
 */
static int plugin_check_live(struct volfs_catalog *cat, const char *path,
			     const char *name, struct volfs_err *err)
{
	struct volfs_open_volume *ov;
	struct stat st;
	int rc;

	if (stat(path, &st) == 0)
		return 0;
	rc = -errno;
	if (volfs_volume_open(cat, name, &ov, err) == 0) {
		volfs_volume_close(ov);
		return volfs_err_set(err, rc,
				     "cannot mount volume '%s': %s: %s", name,
				     path, strerror(-rc));
	}
	return rc;
}

/*
 * What Mount and Unmount begin with: the volume's name, the Mount ID as the
 * attachment's consumer ("docker:ID") and a catalog handle, or an error
 * reply and NULL.
 */
static struct volfs_catalog *plugin_ref_begin(struct volfs_plugin *p,
					      json_t *req,
					      struct plugin_reply *r,
					      const char **name, char *consumer,
					      size_t size)
{
	struct volfs_err err = { "" };
	struct volfs_catalog *cat;
	const char *id;

	*name = plugin_name(req, r);
	id = *name ? plugin_id(req, r) : NULL;
	if (!id)
		return NULL;
	snprintf(consumer, size, VOLFS_DOCKER_CONSUMER "%s", id);
	cat = plugin_cat_get(p, &err);
	if (!cat)
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
	return cat;
}

static void plugin_mount(struct volfs_plugin *p, json_t *req,
			 struct plugin_reply *r)
{
	struct volfs_err err = { "" };
	struct plugin_refreq ref = { 0 };
	struct volfs_attachment *a = &ref.op.a;
	char consumer[VOLFS_DOCKER_CONSUMER_LEN + PLUGIN_MAX_ID + 1];
	char path[PATH_MAX];
	struct volfs_catalog *cat;
	const char *name;
	int rc;

	cat = plugin_ref_begin(p, req, r, &name, consumer, sizeof(consumer));
	if (!cat)
		return;
	snprintf(path, sizeof(path), "%s/%s", p->mountpoint, name);
	a->volume = (char *)name;
	a->consumer = consumer;
	a->target = path;
	a->since = time(NULL);
	/* No owner process: the reference outlives this daemon. */
	a->pid = 0;
	rc = plugin_refop(p, cat, &ref, &err);
	if (rc >= 0) {
		int lrc = plugin_check_live(cat, path, name, &err);

		if (lrc < 0) {
			struct plugin_refreq unref = { .op = ref.op };
			struct volfs_err uerr = { "" };

			/* Never leave a reference behind a failed Mount. */
			unref.op.unref = 1;
			if (plugin_refop(p, cat, &unref, &uerr) < 0)
				volfs_log(VOLFS_LOG_WARNING, "%s", uerr.msg);
			rc = lrc;
		}
	}
	plugin_cat_put(p, cat);
	if (rc < 0) {
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
		return;
	}
	volfs_log(VOLFS_LOG_INFO, "docker mounted volume '%s' for %.12s (%d)",
		  name, consumer + VOLFS_DOCKER_CONSUMER_LEN, rc);
	plugin_reply_ok(r, json_pack("{s:s}", "Mountpoint", path));
	r->ref_volume = strdup(name);
	r->ref_consumer = strdup(consumer);
	if (!r->ref_volume || !r->ref_consumer) {
		free(r->ref_volume);
		free(r->ref_consumer);
		r->ref_volume = NULL;
		r->ref_consumer = NULL;
	}
}

/*
 * Gives back the reference of a Mount whose answer never reached its
 * client: Docker gave up on it (its timeout, or the client died), so no
 * Unmount will come for it, and a retry with the same ID must count once.
 */
void plugin_mount_undo(struct volfs_plugin *p, struct plugin_req *req)
{
	struct volfs_err err = { "" };
	struct plugin_refreq unref = {
		.op = { .a = { .volume = req->undo_volume,
			       .consumer = req->undo_consumer },
			.unref = 1 }
	};
	struct volfs_catalog *cat = plugin_cat_get(p, &err);

	if (cat) {
		if (plugin_refop(p, cat, &unref, &err) >= 0)
			err.msg[0] = '\0';
		plugin_cat_put(p, cat);
	}
	if (err.msg[0])
		volfs_log(VOLFS_LOG_WARNING,
			  "cannot drop the reference of volume '%s' for %.12s, "
			  "whose Mount answer was not delivered: %s",
			  req->undo_volume,
			  req->undo_consumer + VOLFS_DOCKER_CONSUMER_LEN,
			  err.msg);
	else
		volfs_log(VOLFS_LOG_NOTICE,
			  "docker gave up on the Mount of volume '%s' for "
			  "%.12s before its answer: reference dropped",
			  req->undo_volume,
			  req->undo_consumer + VOLFS_DOCKER_CONSUMER_LEN);
}

static void plugin_unmount(struct volfs_plugin *p, json_t *req,
			   struct plugin_reply *r)
{
	struct volfs_err err = { "" };
	char consumer[VOLFS_DOCKER_CONSUMER_LEN + PLUGIN_MAX_ID + 1];
	struct volfs_catalog *cat;
	const char *name;
	int rc;

	cat = plugin_ref_begin(p, req, r, &name, consumer, sizeof(consumer));
	if (!cat)
		return;
	rc = plugin_refop(p, cat,
			  &(struct plugin_refreq){
				  .op = { .a = { .volume = (char *)name,
						 .consumer = consumer },
					  .unref = 1 } },
			  &err);
	plugin_cat_put(p, cat);
	/* Docker unmounts after a failed start too, and again after a
	 * reference was reconciled away: nothing held is nothing to do. */
	if (rc == -ENOENT) {
		volfs_log(VOLFS_LOG_INFO, "%s (nothing to unmount)", err.msg);
		rc = 0;
	}
	if (rc < 0) {
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
		return;
	}
	volfs_log(VOLFS_LOG_INFO, "docker unmounted volume '%s' for %.12s",
		  name, consumer + VOLFS_DOCKER_CONSUMER_LEN);
	plugin_reply_ok(r, NULL);
}

/* The catalog row of volume name, or an error reply. */
static int plugin_peek(struct volfs_plugin *p, const char *name,
		       struct volfs_volume *v, struct plugin_reply *r)
{
	struct volfs_err err = { "" };
	struct volfs_catalog *cat;
	int rc;

	cat = plugin_cat_get(p, &err);
	if (!cat) {
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
		return -EIO;
	}
	rc = volfs_catalog_peek(cat, name, v, &err);
	plugin_cat_put(p, cat);
	/* A volume still being created or removed is not Docker's yet. */
	if (rc == 0 && v->state != VOLFS_VOL_READY) {
		volfs_volume_release(v);
		rc = volfs_err_set(&err, -ENOENT, "no such volume: '%s'",
				   name);
	}
	if (rc < 0)
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
	return rc;
}

/* The request's volume name and its catalog row, or an error reply and
 * NULL. */
static const char *plugin_named_volume(struct volfs_plugin *p, json_t *req,
				       struct volfs_volume *v,
				       struct plugin_reply *r)
{
	const char *name = plugin_name(req, r);

	return name && plugin_peek(p, name, v, r) == 0 ? name : NULL;
}

static void plugin_path(struct volfs_plugin *p, json_t *req,
			struct plugin_reply *r)
{
	struct volfs_volume v;
	const char *name = plugin_named_volume(p, req, &v, r);

	if (!name)
		return;
	volfs_volume_release(&v);
	plugin_reply_ok(r, json_pack("{s:o}", "Mountpoint",
				     plugin_mountpoint(p, name)));
}

/* Status for `docker volume inspect`: secrets never leave volfs. */
static json_t *plugin_status(const struct volfs_volume *v)
{
	const struct volfs_backend *be = NULL;
	json_t *opts = json_object();

	volfs_backend_load(v->backend, &be, NULL);
	for (size_t i = 0; i < v->nopts && opts; i++) {
		const char *val = v->opts[i].value;

		/* An unloadable backend hides every value. */
		if (!be || volfs_opt_is_secret(be, v->opts[i].key))
			val = VOLFS_REDACTED;
		json_object_set_new(opts, v->opts[i].key, json_string(val));
	}
	return json_pack("{s:s,s:i,s:o}", "backend", v->backend, "refcount",
			 (json_int_t)v->refcount, "options",
			 opts ? opts : json_object());
}

static json_t *plugin_created_at(int64_t created)
{
	char buf[64];
	time_t t = (time_t)created;
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_string("");
	return json_string(buf);
}

static void plugin_get(struct volfs_plugin *p, json_t *req,
		       struct plugin_reply *r)
{
	struct volfs_volume v;

	if (!plugin_named_volume(p, req, &v, r))
		return;
	plugin_reply_ok(r, json_pack("{s:{s:s,s:o,s:o,s:o}}", "Volume", "Name",
				     v.name, "Mountpoint",
				     plugin_mountpoint(p, v.name), "CreatedAt",
				     plugin_created_at(v.created), "Status",
				     plugin_status(&v)));
	volfs_volume_release(&v);
}

static void plugin_list(struct volfs_plugin *p, json_t *req,
			struct plugin_reply *r)
{
	struct volfs_err err = { "" };
	struct volfs_catalog *cat;
	struct volfs_volume *v;
	json_t *list;
	int n;

	(void)req;
	cat = plugin_cat_get(p, &err);
	if (!cat) {
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
		return;
	}
	n = volfs_catalog_list(cat, &v, &err);
	plugin_cat_put(p, cat);
	if (n < 0) {
		plugin_reply_err(r, MHD_HTTP_OK, "%s", err.msg);
		return;
	}
	list = json_array();
	for (int i = 0; i < n && list; i++) {
		if (v[i].state != VOLFS_VOL_READY)
			continue;
		json_array_append_new(
			list, json_pack("{s:s,s:o}", "Name", v[i].name,
					"Mountpoint",
					plugin_mountpoint(p, v[i].name)));
	}
	volfs_volumes_free(v, (size_t)n);
	plugin_reply_ok(r, json_pack("{s:o}", "Volumes",
				     list ? list : json_array()));
}

struct plugin_route {
	const char *path;
	/* Whether the request has a JSON body to parse. */
	int has_body;
	void (*fn)(struct volfs_plugin *p, json_t *req,
		   struct plugin_reply *r);
};

static const struct plugin_route plugin_routes[] = {
	{ "/Plugin.Activate", 0, plugin_activate },
	{ "/VolumeDriver.Capabilities", 0, plugin_capabilities },
	{ "/VolumeDriver.Create", 1, plugin_create },
	{ "/VolumeDriver.Remove", 1, plugin_remove },
	{ "/VolumeDriver.Mount", 1, plugin_mount },
	{ "/VolumeDriver.Unmount", 1, plugin_unmount },
	{ "/VolumeDriver.Path", 1, plugin_path },
	{ "/VolumeDriver.Get", 1, plugin_get },
	{ "/VolumeDriver.List", 0, plugin_list },
};

/* Answers one complete request into r. */
void plugin_dispatch(struct volfs_plugin *p, const char *url,
			    const char *method, struct plugin_req *req,
			    struct plugin_reply *r)
{
	const struct plugin_route *route = NULL;
	json_error_t jerr;
	json_t *body = NULL;

	for (size_t i = 0; i < sizeof(plugin_routes) / sizeof(*plugin_routes);
	     i++)
		if (strcmp(url, plugin_routes[i].path) == 0)
			route = &plugin_routes[i];
	if (!route) {
		plugin_reply_err(r, MHD_HTTP_NOT_FOUND,
				 "unknown request %s: this is volfs's Docker "
				 "volume plugin",
				 url);
		return;
	}
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
		plugin_reply_err(r, MHD_HTTP_METHOD_NOT_ALLOWED,
				 "%s wants POST, not %s", url, method);
		return;
	}
	if (req->too_large) {
		plugin_reply_err(r, MHD_HTTP_CONTENT_TOO_LARGE,
				 "request body larger than %d bytes",
				 PLUGIN_MAX_BODY);
		return;
	}
	if (route->has_body || req->len > 0) {
		body = json_loadb(req->body ? req->body : "", req->len,
				  JSON_REJECT_DUPLICATES, &jerr);
		if (!body && route->has_body) {
			plugin_reply_err(r, MHD_HTTP_BAD_REQUEST,
					 "malformed request to %s: invalid "
					 "JSON: %s",
					 url, jerr.text);
			return;
		}
		if (body && !json_is_object(body) && route->has_body) {
			json_decref(body);
			plugin_reply_err(r, MHD_HTTP_BAD_REQUEST,
					 "malformed request to %s: the body "
					 "must be a JSON object",
					 url);
			return;
		}
	}
	route->fn(p, body, r);
	json_decref(body);
}

