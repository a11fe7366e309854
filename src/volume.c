/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "volfs/backend_util.h"
#include "volfs/loader.h"
#include "volfs/options.h"
#include "volfs/secret.h"
#include "volfs/util.h"
#include "volfs/volume.h"

/* The consumer id of a `volfs mount NAME DIR` attachment: "mount:DIR". */
#define VOL_MOUNT_PREFIX "mount:"

static char *vol_state_dir_at(const char *root, const char *name)
{
	char *dir;

	if (asprintf(&dir, "%s/volumes/%s", root, name) < 0)
		return NULL;
	return dir;
}

char *volfs_volume_state_dir(struct volfs_catalog *cat, const char *name)
{
	return vol_state_dir_at(volfs_catalog_root(cat), name);
}

static void vol_volinfo(struct volfs_volinfo *vi, const char *name,
			const char *state_dir, const struct volfs_kv *opts,
			size_t nopts)
{
	vi->name = name;
	vi->state_dir = state_dir;
	vi->opts = opts;
	vi->nopts = nopts;
	vi->log = volfs_log;
}

/* A backend's message, or strerror() when it left none. */
static const char *vol_be_msg(const char *msg, int rc)
{
	return msg[0] ? msg : strerror(-rc);
}

/* Labels are free-form, but one key may appear only once. */
static int vol_labels_check(const struct volfs_kv *labels, size_t n,
			    struct volfs_err *err)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(labels[i].key, labels[j].key) == 0)
				return volfs_err_set(err, -EINVAL,
						     "label '%s' is given "
						     "twice: give each label "
						     "once",
						     labels[i].key);
	return 0;
}

/* nftw callback: removes empty directories, stops at anything else. */
static int vol_rmdir_one(const char *path, const struct stat *st, int flag,
			 struct FTW *ftw)
{
	if (flag != FTW_DP)
		return ENOTEMPTY;
	return rmdir(path) < 0 ? errno : 0;
}

/*
 * Makes the state directory of a volume whose name this process has just
 * reserved.  A directory already there was left by a create that died, or
 * by a catalog that was lost: it is cleared only if it holds nothing but
 * empty directories, so no data is ever deleted here.
 */
static int vol_make_state_dir(const char *state_dir, struct volfs_err *err)
{
	char *parent, *slash;
	int rc;

	parent = strdup(state_dir);
	if (!parent)
		return volfs_err_set(err, -ENOMEM, "cannot make %s: %s",
				     state_dir, strerror(ENOMEM));
	slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	rc = volfs_mkdir_p(parent, 0711);
	if (rc < 0) {
		volfs_err_set(err, rc, "cannot make directory %s: %s", parent,
			      strerror(-rc));
		goto out;
	}
	if (access(state_dir, F_OK) == 0) {
		rc = nftw(state_dir, vol_rmdir_one, 16,
			  FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
		if (rc != 0) {
			rc = rc > 0 ? -rc : -errno;
			volfs_err_set(err, rc,
				      "%s already exists and holds files (left "
				      "by an earlier volfs whose catalog was "
				      "lost?): move it away, or use another "
				      "volume name",
				      state_dir);
			goto out;
		}
		volfs_log(VOLFS_LOG_NOTICE,
			  "removed %s, left empty by an earlier create",
			  state_dir);
	}
	if (mkdir(state_dir, 0700) < 0) {
		rc = -errno;
		volfs_err_set(err, rc, "cannot make directory %s: %s",
			      state_dir, strerror(-rc));
	}
out:
	free(parent);
	return rc;
}

/* Undoes a create after the name was reserved: the caller owns the name. */
static void vol_create_undo(struct volfs_catalog *cat, const char *name,
			    const char *state_dir)
{
	struct volfs_err err = { "" };
	int rc;

	rc = volfs_rm_rf(state_dir);
	if (rc < 0)
		volfs_log(VOLFS_LOG_WARNING, "cannot remove %s: %s", state_dir,
			  strerror(-rc));
	if (volfs_catalog_delete(cat, name, &err) < 0)
		volfs_log(VOLFS_LOG_WARNING, "%s", err.msg);
}

/* opts with credentials=FILE replaced by the file's options, checked
 * against the backend's table; the caller releases *plain in any case. */
static int vol_opts_plain(const struct volfs_backend *be,
			  const struct volfs_kv *opts, size_t nopts,
			  struct volfs_kvlist *plain, struct volfs_err *err)
{
	int rc = volfs_opts_expand(be, opts, nopts, plain, err);

	return rc < 0 ? rc : volfs_opts_check(be, plain->v, plain->n, err);
}

/* Whether the resolved directory a is b or inside it. */
static int vol_path_under(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (n == 1)
		return 1;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* What the check of one host directory needs, gathered once. */
struct vol_hostdir {
	struct volfs_catalog *cat;
	const char *name;
	/* The state root, resolved. */
	char *root;
	/* The other volumes, read when first needed (n < 0: not yet). */
	struct volfs_volume *vols;
	int n;
};

/* Checks dir against volume v's host directories (key: the option). */
static int vol_host_dir_other(const char *key, const char *dir,
			      const struct volfs_volume *v,
			      struct volfs_err *err)
{
	const struct volfs_backend *be;
	struct volfs_err tmp = { "" };
	int rc = 0;

	if (volfs_backend_load(v->backend, &be, &tmp) < 0)
		return 0;
	for (const struct volfs_optdesc *o = be->options; o && o->key; o++) {
		const char *val = volfs_kv_get(v->opts, v->nopts, o->key);
		char *other;

		if (!(o->flags & VOLFS_OPT_HOST_DIR) || !val)
			continue;
		/* Stored resolved, but older catalogs may hold a link. */
		other = realpath(val, NULL);
		if (!other)
			other = strdup(val);
		if (!other)
			return volfs_err_set(err, -ENOMEM, "%s",
					     strerror(ENOMEM));
		if (strcmp(dir, other) == 0)
			rc = volfs_err_set(err, -EEXIST,
					   "option '%s': %s is already served "
					   "by volume '%s': use that volume, "
					   "or remove it first",
					   key, dir, v->name);
		else if (vol_path_under(dir, other))
			rc = volfs_err_set(err, -EINVAL,
					   "option '%s': %s is inside %s, "
					   "which volume '%s' serves: give a "
					   "directory that no other volume "
					   "serves, or use volume '%s'",
					   key, dir, other, v->name, v->name);
		else if (vol_path_under(other, dir))
			rc = volfs_err_set(err, -EINVAL,
					   "option '%s': %s contains %s, "
					   "which volume '%s' serves: give a "
					   "directory that holds no other "
					   "volume's",
					   key, dir, other, v->name);
		free(other);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Checks one resolved host directory (the value of option key). */
static int vol_host_dir_check(struct vol_hostdir *h, const char *key,
			      const char *dir, struct volfs_err *err)
{
	const char *what = "the catalog, the secret key and the data of "
			   "managed volumes";
	int n;

	if (strcmp(dir, "/") == 0)
		return volfs_err_set(err, -EINVAL,
				     "option '%s': / is the whole host: give "
				     "the directory to share, such as /srv/%s",
				     key, h->name);
	if (vol_path_under(dir, h->root))
		return volfs_err_set(err, -EINVAL,
				     "option '%s': %s is %sthe volfs state "
				     "directory %s, which holds %s: give a "
				     "directory outside it, or leave out %s= "
				     "to let volfs manage the data",
				     key, dir,
				     strcmp(dir, h->root) ? "inside " : "",
				     h->root, what, key);
	if (vol_path_under(h->root, dir))
		return volfs_err_set(err, -EINVAL,
				     "option '%s': %s contains the volfs "
				     "state directory %s, which holds %s: give "
				     "a directory that does not contain it",
				     key, dir, h->root, what);
	if (h->n < 0) {
		n = volfs_catalog_list(h->cat, &h->vols, err);
		if (n < 0)
			return n;
		h->n = n;
	}
	for (int i = 0; i < h->n; i++) {
		int rc;

		if (strcmp(h->vols[i].name, h->name) == 0)
			continue;
		rc = vol_host_dir_other(key, dir, &h->vols[i], err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * The host directories the volume is to serve (VOLFS_OPT_HOST_DIR options,
 * which validate() has found to be directories): each is replaced in plain
 * by its real path, so that what is served does not change when a symlink
 * on the way does later, and refused where it would expose more than the
 * volume's own data: the whole host, volfs's state (the catalog, the
 * secret key, managed volumes' data), or another volume's directory.
 */
static int vol_host_dirs(struct volfs_catalog *cat,
			 const struct volfs_backend *be, const char *name,
			 struct volfs_kvlist *plain, struct volfs_err *err)
{
	struct vol_hostdir h = { .cat = cat, .name = name, .n = -1 };
	const char *root = volfs_catalog_root(cat);
	int rc = 0;

	for (const struct volfs_optdesc *o = be->options; o && o->key; o++) {
		const char *val = volfs_kvlist_get(plain, o->key);
		char *dir;

		if (!(o->flags & VOLFS_OPT_HOST_DIR) || !val)
			continue;
		if (!h.root) {
			h.root = realpath(root, NULL);
			if (!h.root)
				h.root = strdup(root);
			if (!h.root) {
				rc = volfs_err_set(err, -ENOMEM, "%s",
						   strerror(ENOMEM));
				break;
			}
		}
		dir = realpath(val, NULL);
		if (!dir) {
			rc = -errno;
			volfs_err_set(err, rc,
				      "option '%s': cannot resolve %s: %s: "
				      "give an existing directory",
				      o->key, val, strerror(-rc));
			break;
		}
		rc = vol_host_dir_check(&h, o->key, dir, err);
		if (rc == 0 && strcmp(dir, val) != 0)
			rc = volfs_kvlist_set(plain, o->key, dir);
		if (rc == -ENOMEM)
			volfs_err_set(err, rc, "%s", strerror(ENOMEM));
		free(dir);
		if (rc < 0)
			break;
	}
	if (h.n > 0)
		volfs_volumes_free(h.vols, (size_t)h.n);
	free(h.root);
	return rc;
}

int volfs_volume_check_opts(const struct volfs_backend *be,
			    const struct volfs_kv *opts, size_t nopts,
			    struct volfs_err *err)
{
	struct volfs_kvlist plain = { 0 };
	int rc = vol_opts_plain(be, opts, nopts, &plain, err);

	volfs_kvlist_release(&plain);
	return rc;
}

static int vol_create(struct volfs_catalog *cat, const char *name,
		      int anonymous, const char *backend,
		      const struct volfs_kv *opts, size_t nopts,
		      const struct volfs_kv *labels, size_t nlabels,
		      char **name_out, struct volfs_err *err)
{
	struct volfs_kvlist plain = { 0 }, sealed = { 0 };
	const struct volfs_backend *be;
	struct volfs_err tmp = { "" };
	struct volfs_volinfo vi;
	struct volfs_volume v;
	char random_name[65], msg[VOLFS_ERR_MAX] = "";
	char *state_dir, *copy = NULL;
	int rc;

	if (!name) {
		rc = volfs_name_random(random_name);
		if (rc < 0)
			return volfs_err_set(err, rc,
					     "cannot make a random volume "
					     "name: %s",
					     strerror(-rc));
		name = random_name;
		anonymous = 1;
	} else {
		rc = volfs_name_check(name, err);
		if (rc < 0)
			return rc;
	}
	if (!backend)
		backend = VOLFS_DEFAULT_BACKEND;
	rc = volfs_backend_load(backend, &be, err);
	if (rc < 0)
		return rc;
	/* plain: what the backend sees; sealed: what the catalog stores. */
	rc = vol_opts_plain(be, opts, nopts, &plain, err);
	if (rc < 0)
		goto err_opts;
	rc = vol_labels_check(labels, nlabels, err);
	if (rc < 0)
		goto err_opts;
	state_dir = volfs_volume_state_dir(cat, name);
	if (name_out)
		copy = strdup(name);
	if (!state_dir || (name_out && !copy)) {
		rc = volfs_err_set(err, -ENOMEM,
				   "cannot create volume '%s': %s",
				   name, strerror(ENOMEM));
		goto err_free;
	}
	vol_volinfo(&vi, name, state_dir, plain.v, plain.n);
	if (be->validate) {
		rc = be->validate(&vi, msg, sizeof(msg));
		if (rc < 0) {
			volfs_err_set(err, rc, "cannot create volume '%s': %s",
				      name, vol_be_msg(msg, rc));
			goto err_free;
		}
	}
	rc = vol_host_dirs(cat, be, name, &plain, &tmp);
	if (rc < 0) {
		volfs_err_set(err, rc, "cannot create volume '%s': %s", name,
			      tmp.msg);
		goto err_free;
	}
	vol_volinfo(&vi, name, state_dir, plain.v, plain.n);
	rc = volfs_opts_seal(volfs_catalog_root(cat), be, name, plain.v,
			     plain.n, &sealed, err);
	if (rc < 0)
		goto err_free;

	v = (struct volfs_volume){
		.name = (char *)name,
		.backend = (char *)be->name,
		.opts = sealed.v,
		.nopts = sealed.n,
		.labels = (struct volfs_kv *)labels,
		.nlabels = nlabels,
		.anonymous = anonymous,
		.state = VOLFS_VOL_CREATING,
		.created = (int64_t)time(NULL),
	};
	/* From here on the name is ours, and so is STATE/volumes/NAME. */
	rc = volfs_catalog_reserve(cat, &v, err);
	if (rc < 0)
		goto err_free;
	rc = vol_make_state_dir(state_dir, err);
	if (rc < 0)
		goto err_release_name;
	if (be->create) {
		rc = be->create(&vi, msg, sizeof(msg));
		if (rc < 0) {
			volfs_err_set(err, rc, "cannot create volume '%s': %s",
				      name, vol_be_msg(msg, rc));
			goto err_unreserve;
		}
	}
	rc = volfs_catalog_set_state(cat, name, VOLFS_VOL_READY, err);
	if (rc < 0)
		goto err_destroy;
	free(state_dir);
	volfs_kvlist_release(&sealed);
	volfs_kvlist_release(&plain);
	if (name_out)
		*name_out = copy;
	return 0;

err_destroy:
	msg[0] = '\0';
	if (be->destroy && be->destroy(&vi, msg, sizeof(msg)) < 0)
		volfs_log(VOLFS_LOG_WARNING,
			  "cannot delete the storage of volume '%s': %s", name,
			  msg);
err_unreserve:
	vol_create_undo(cat, name, state_dir);
	goto err_free;
err_release_name:
	/* The directory is not ours to delete: only give the name back. */
	msg[0] = '\0';
	if (volfs_catalog_delete(cat, name, NULL) < 0)
		volfs_log(VOLFS_LOG_WARNING,
			  "cannot release the name of volume '%s'", name);
err_free:
	free(copy);
	free(state_dir);
	volfs_kvlist_release(&sealed);
err_opts:
	volfs_kvlist_release(&plain);
	return rc;
}

int volfs_volume_create(struct volfs_catalog *cat, const char *name,
			const char *backend, const struct volfs_kv *opts,
			size_t nopts, const struct volfs_kv *labels,
			size_t nlabels, char **name_out,
			struct volfs_err *err)
{
	return vol_create(cat, name, !name, backend, opts, nopts, labels,
			  nlabels, name_out, err);
}

int volfs_volume_create_anonymous(struct volfs_catalog *cat,
				  const char *name, const char *backend,
				  const struct volfs_kv *opts, size_t nopts,
				  struct volfs_err *err)
{
	return vol_create(cat, name, 1, backend, opts, nopts, NULL, 0, NULL,
			  err);
}

/*
 * Detaches the `volfs mount` instances of a volume being removed by force,
 * so that the processes serving them let go of it.  Only a directory that
 * is still a volfs mount is touched.
 */
static void vol_unmount_all(const struct volfs_attachment *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *dir;
		int rc;

		if (strncmp(a[i].consumer, VOL_MOUNT_PREFIX,
			    strlen(VOL_MOUNT_PREFIX)) != 0)
			continue;
		dir = a[i].target && a[i].target[0]
			      ? a[i].target
			      : a[i].consumer + strlen(VOL_MOUNT_PREFIX);
		if (volfs_is_volfs_mount(dir) != 1)
			continue;
		rc = volfs_unmount(dir, 1);
		if (rc < 0)
			volfs_log(VOLFS_LOG_WARNING,
				  "cannot unmount volume '%s' from %s: %s",
				  a[i].volume, dir, strerror(-rc));
	}
}

int volfs_volume_remove(struct volfs_catalog *cat, const char *name,
			int force, struct volfs_err *err)
{
	struct volfs_attachment *att = NULL;
	struct volfs_kvlist plain = { 0 };
	const struct volfs_backend *be;
	struct volfs_err tmp = { "" };
	struct volfs_volume row = { 0 };
	struct volfs_volinfo vi;
	char msg[VOLFS_ERR_MAX] = "";
	char *state_dir = NULL;
	int natt = 0, rc;

	rc = volfs_name_check(name, err);
	if (rc < 0)
		return rc;
	/* begin_remove drops the attachments it overrides: note them first. */
	if (force) {
		natt = volfs_catalog_attachments(cat, name, &att, err);
		if (natt < 0)
			return natt;
	}
	rc = volfs_catalog_begin_remove(cat, name, force, err);
	if (rc < 0)
		goto out;
	/* The attachments are gone from the catalog: so are their mounts. */
	vol_unmount_all(att, natt > 0 ? (size_t)natt : 0);
	rc = volfs_catalog_get(cat, name, &row, err);
	if (rc < 0)
		goto err_ready;
	rc = volfs_backend_load(row.backend, &be, &tmp);
	if (rc < 0) {
		volfs_err_set(err, rc, "cannot remove volume '%s': %s", name,
			      tmp.msg);
		goto err_ready;
	}
	state_dir = volfs_volume_state_dir(cat, name);
	if (!state_dir) {
		rc = volfs_err_set(err, -ENOMEM,
				   "cannot remove volume '%s': %s",
				   name, strerror(ENOMEM));
		goto err_ready;
	}
	rc = volfs_opts_unseal(volfs_catalog_root(cat), be, name, row.opts,
			       row.nopts, &plain, &tmp);
	if (rc < 0 && !force) {
		volfs_err_set(err, rc, "cannot remove volume '%s': %s",
			      name, tmp.msg);
		goto err_ready;
	}
	if (rc < 0) {
		/* Forced: the volume goes, the backend cannot be asked. */
		volfs_log(VOLFS_LOG_WARNING,
			  "%s; removing volume '%s' without asking backend "
			  "'%s' to delete its data: what it kept outside %s "
			  "is left behind",
			  tmp.msg, name, be->name, state_dir);
	}
	/* destroy() is promised the directory, even if someone removed it. */
	volfs_mkdir_p(state_dir, 0700);
	vol_volinfo(&vi, name, state_dir, plain.v, plain.n);
	if (be->destroy && rc == 0) {
		rc = be->destroy(&vi, msg, sizeof(msg));
		if (rc < 0) {
			volfs_err_set(err, rc,
				      "cannot remove volume '%s': %s; it is "
				      "kept",
				      name, vol_be_msg(msg, rc));
			goto err_ready;
		}
	}
	rc = volfs_rm_rf(state_dir);
	if (rc < 0)
		volfs_log(VOLFS_LOG_WARNING,
			  "volume '%s' is removed but %s could not be: %s; "
			  "remove it by hand",
			  name, state_dir, strerror(-rc));
	rc = volfs_catalog_delete(cat, name, err);
	goto out;

err_ready:
	if (volfs_catalog_set_state(cat, name, VOLFS_VOL_READY, &tmp) < 0)
		volfs_log(VOLFS_LOG_WARNING, "%s", tmp.msg);
out:
	volfs_kvlist_release(&plain);
	free(state_dir);
	volfs_volume_release(&row);
	volfs_attachments_free(att, natt > 0 ? (size_t)natt : 0);
	return rc;
}

static const char *vol_state_busy(enum volfs_volstate state)
{
	return state == VOLFS_VOL_CREATING ? "being created" : "being removed";
}

/*
 * Wipes the plaintext of ov's secret options (those of be, the volume's
 * backend before open_as() handed it on) once the backend has opened
 * the volume (backend.h: it keeps what it needs later), so that the
 * daemon holds no copy of its own for as long as it serves.
 */
static void vol_wipe_secrets(struct volfs_open_volume *ov,
			     const struct volfs_backend *be)
{
	for (size_t i = 0; i < ov->opts.n; i++) {
		char *value = (char *)ov->opts.v[i].value;

		if (volfs_opt_is_secret(be, ov->opts.v[i].key))
			explicit_bzero(value, strlen(value));
	}
}

int volfs_volume_open(struct volfs_catalog *cat, const char *name,
		      struct volfs_open_volume **out,
		      struct volfs_err *err)
{
	struct volfs_volume row;
	int rc;

	rc = volfs_name_check(name, err);
	if (rc < 0)
		return rc;
	rc = volfs_catalog_peek(cat, name, &row, err);
	if (rc < 0)
		return rc;
	return volfs_volume_open_row(volfs_catalog_root(cat), &row, out, err);
}

int volfs_volume_open_row(const char *root, struct volfs_volume *row,
			  struct volfs_open_volume **out,
			  struct volfs_err *err)
{
	const struct volfs_backend *loaded;
	struct volfs_open_volume *ov;
	char msg[VOLFS_ERR_MAX] = "";
	const char *name = row->name;
	unsigned caps;
	int rc;

	ov = calloc(1, sizeof(*ov));
	if (!ov) {
		rc = volfs_err_set(err, -ENOMEM, "cannot open volume '%s': %s",
				   name, strerror(ENOMEM));
		volfs_volume_release(row);
		return rc;
	}
	ov->row = *row;
	memset(row, 0, sizeof(*row));
	name = ov->row.name;
	if (ov->row.state != VOLFS_VOL_READY) {
		rc = volfs_err_set(err, -EBUSY,
				   "cannot open volume '%s': it is %s; try "
				   "again when that has finished",
				   name, vol_state_busy(ov->row.state));
		goto err_row;
	}
	rc = volfs_backend_load(ov->row.backend, &ov->be, err);
	if (rc < 0)
		goto err_row;
	ov->state_dir = vol_state_dir_at(root, name);
	if (!ov->state_dir) {
		rc = volfs_err_set(err, -ENOMEM,
				   "cannot open volume '%s': %s",
				   name, strerror(ENOMEM));
		goto err_row;
	}
	/* The backend is promised an existing state directory. */
	rc = volfs_mkdir_p(ov->state_dir, 0700);
	if (rc < 0) {
		volfs_err_set(err, rc,
			      "cannot open volume '%s': cannot make %s: %s",
			      name, ov->state_dir, strerror(-rc));
		goto err_dir;
	}
	rc = volfs_opts_unseal(root, ov->be, name, ov->row.opts,
			       ov->row.nopts, &ov->opts, err);
	if (rc < 0)
		goto err_dir;
	vol_volinfo(&ov->vi, ov->row.name, ov->state_dir, ov->opts.v,
		    ov->opts.n);
	/* open_as() may hand the volume to another table (ov->be). */
	loaded = ov->be;
	if (ov->be->open_as)
		rc = ov->be->open_as(&ov->vi, &ov->state, &ov->be, msg,
				     sizeof(msg));
	else if (ov->be->open)
		rc = ov->be->open(&ov->vi, &ov->state, msg, sizeof(msg));
	if (rc < 0) {
		volfs_err_set(err, rc, "cannot open volume '%s': %s", name,
			      vol_be_msg(msg, rc));
		goto err_dir;
	}
	vol_wipe_secrets(ov, loaded);
	if (ov->be != loaded) {
		const struct volfs_backend *be = ov->be;

		/* The table open_as() handed on is checked as the module's was. */
		ov->be = loaded;
		rc = volfs_backend_table(be, loaded->name, &ov->be, err);
		if (rc < 0) {
			ov->be = be;
			goto err_close;
		}
	}
	caps = ov->be->volume_caps ? ov->be->volume_caps(ov->state)
				   : ov->be->caps;
	ov->serialize = !(caps & VOLFS_CAP_THREADSAFE);
	rc = -pthread_mutex_init(&ov->lock, NULL);
	if (rc < 0) {
		volfs_err_set(err, rc, "cannot open volume '%s': %s", name,
			      strerror(-rc));
		goto err_close;
	}
	*out = ov;
	return 0;

err_close:
	if (ov->be->close)
		ov->be->close(ov->state);
err_dir:
	volfs_kvlist_release(&ov->opts);
	free(ov->state_dir);
err_row:
	volfs_volume_release(&ov->row);
	free(ov);
	return rc;
}

void volfs_volume_close(struct volfs_open_volume *ov)
{
	if (!ov)
		return;
	if (ov->be->close)
		ov->be->close(ov->state);
	pthread_mutex_destroy(&ov->lock);
	volfs_kvlist_release(&ov->opts);
	free(ov->state_dir);
	volfs_volume_release(&ov->row);
	free(ov);
}
