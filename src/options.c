/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volfs/options.h"

/* Frees a value, wiping it first: it may be a secret. */
static void opt_value_free(const char *value)
{
	if (!value)
		return;
	explicit_bzero((char *)value, strlen(value));
	free((char *)value);
}

/* struct volfs_kv holds const pointers; a kvlist owns what they point to. */
static void opt_kv_free(struct volfs_kv *kv)
{
	free((char *)kv->key);
	opt_value_free(kv->value);
}

static ssize_t opt_find(const struct volfs_kv *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return (ssize_t)i;
	return -1;
}

int volfs_kvlist_set(struct volfs_kvlist *l, const char *key,
		     const char *value)
{
	ssize_t i = opt_find(l->v, l->n, key);
	char *k, *val;

	val = strdup(value);
	if (!val)
		return -ENOMEM;
	if (i >= 0) {
		opt_value_free(l->v[i].value);
		l->v[i].value = val;
		return 0;
	}
	if (l->n == l->alloc) {
		size_t alloc = l->alloc ? 2 * l->alloc : 8;
		struct volfs_kv *v = realloc(l->v, alloc * sizeof(*v));

		if (!v)
			goto err_val;
		l->v = v;
		l->alloc = alloc;
	}
	k = strdup(key);
	if (!k)
		goto err_val;
	l->v[l->n].key = k;
	l->v[l->n].value = val;
	l->n++;
	return 0;

err_val:
	opt_value_free(val);
	return -ENOMEM;
}

int volfs_kvlist_parse(struct volfs_kvlist *l, const char *arg,
		       const char *what, struct volfs_err *err)
{
	const char *eq = strchr(arg, '=');
	char *key;
	int rc;

	if (!eq)
		return volfs_err_set(err, -EINVAL,
				     "invalid %s '%s': write it as KEY=VALUE",
				     what, arg);
	/* The value may be a secret: messages below name only the key. */
	if (eq == arg)
		return volfs_err_set(err, -EINVAL,
				     "invalid %s '=...': the key before '=' is "
				     "empty",
				     what);
	key = strndup(arg, (size_t)(eq - arg));
	if (!key)
		return volfs_err_set(err, -ENOMEM, "cannot parse a %s: %s",
				     what, strerror(ENOMEM));
	if (opt_find(l->v, l->n, key) >= 0) {
		rc = volfs_err_set(err, -EINVAL,
				   "%s '%s' is given twice: give each key "
				   "once",
				   what, key);
		goto out;
	}
	rc = volfs_kvlist_set(l, key, eq + 1);
	if (rc < 0)
		volfs_err_set(err, rc, "cannot add %s '%s': %s", what, key,
			      strerror(-rc));
out:
	free(key);
	return rc;
}

const char *volfs_kv_get(const struct volfs_kv *v, size_t n, const char *key)
{
	ssize_t i = opt_find(v, n, key);

	return i >= 0 ? v[i].value : NULL;
}

const char *volfs_kvlist_get(const struct volfs_kvlist *l, const char *key)
{
	return volfs_kv_get(l->v, l->n, key);
}

void volfs_kvlist_release(struct volfs_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		opt_kv_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->alloc = 0;
}

static const struct volfs_optdesc *opt_desc(const struct volfs_backend *be,
					    const char *key)
{
	const struct volfs_optdesc *d;

	for (d = be->options; d && d->key; d++)
		if (strcmp(d->key, key) == 0)
			return d;
	return NULL;
}

/* "a, b, c" of the backend's accepted keys into buf. */
static void opt_accepted(const struct volfs_backend *be, char *buf,
			 size_t size)
{
	const struct volfs_optdesc *d;
	size_t len = 0;

	buf[0] = '\0';
	for (d = be->options; d && d->key && len < size; d++) {
		int n = snprintf(buf + len, size - len, "%s%s",
				 len ? ", " : "", d->key);

		if (n < 0)
			break;
		len += (size_t)n;
	}
}

int volfs_opts_check(const struct volfs_backend *be, const struct volfs_kv *v,
		     size_t n, struct volfs_err *err)
{
	const struct volfs_optdesc *d;
	char keys[512];

	for (size_t i = 0; i < n; i++) {
		if (!opt_desc(be, v[i].key)) {
			opt_accepted(be, keys, sizeof(keys));
			if (!keys[0])
				return volfs_err_set(
					err, -EINVAL,
					"unknown option '%s' for backend "
					"'%s': it accepts no options",
					v[i].key, be->name);
			return volfs_err_set(err, -EINVAL,
					     "unknown option '%s' for backend "
					     "'%s': it accepts %s",
					     v[i].key, be->name, keys);
		}
		if (opt_find(v, i, v[i].key) >= 0)
			return volfs_err_set(err, -EINVAL,
					     "option '%s' is given twice: "
					     "give each option once",
					     v[i].key);
	}
	for (d = be->options; d && d->key; d++) {
		if (!(d->flags & VOLFS_OPT_REQUIRED))
			continue;
		if (opt_find(v, n, d->key) < 0)
			return volfs_err_set(err, -EINVAL,
					     "backend '%s' needs option '%s': "
					     "give it with -o %s=VALUE",
					     be->name, d->key, d->key);
	}
	return 0;
}

int volfs_opt_is_secret(const struct volfs_backend *be, const char *key)
{
	const struct volfs_optdesc *d = opt_desc(be, key);

	return d && (d->flags & VOLFS_OPT_SECRET);
}

int volfs_opt_names_host_file(const struct volfs_backend *be, const char *key)
{
	const struct volfs_optdesc *d;

	if (strcmp(key, VOLFS_OPT_CREDENTIALS) == 0)
		return 1;
	d = be ? opt_desc(be, key) : NULL;
	return d && (d->flags & VOLFS_OPT_HOST_FILE);
}

int volfs_opts_have_secret(const struct volfs_backend *be)
{
	const struct volfs_optdesc *d;

	for (d = be->options; d && d->key; d++)
		if (d->flags & VOLFS_OPT_SECRET)
			return 1;
	return 0;
}

int volfs_opt_scrub(const struct volfs_backend *be, char *arg)
{
	char *eq = strchr(arg, '=');
	int secret;

	if (!eq)
		return 0;
	*eq = '\0';
	secret = volfs_opt_is_secret(be, arg);
	*eq = '=';
	if (!secret)
		return 0;
	for (char *p = eq + 1; *p; p++)
		*p = '*';
	return 1;
}

/* The spellings mount.cifs users write in credentials files. */
static const struct {
	const char *alias;
	const char *key;
} opt_cred_aliases[] = {
	{ "user", "username" },
	{ "pass", "password" },
	{ "dom", "domain" },
};

/* The backend option a credentials-file key stands for, or NULL. */
static const char *opt_cred_key(const struct volfs_backend *be,
				const char *key)
{
	if (opt_desc(be, key))
		return opt_desc(be, key)->key;
	for (size_t i = 0; i < sizeof(opt_cred_aliases) /
				       sizeof(opt_cred_aliases[0]);
	     i++)
		if (strcmp(key, opt_cred_aliases[i].alias) == 0 &&
		    opt_desc(be, opt_cred_aliases[i].key))
			return opt_cred_aliases[i].key;
	return NULL;
}

/* Checks one line ("key=value", modified in place) and adds it to l. */
static int opt_cred_line(const struct volfs_backend *be, const char *path,
			 unsigned lineno, char *line, size_t nopts,
			 struct volfs_kvlist *l, struct volfs_err *err)
{
	char *key = line, *eq, *end, keys[512];
	const char *opt;
	ssize_t i;

	eq = strchr(key, '=');
	if (!eq)
		return volfs_err_set(err, -EINVAL,
				     "credentials file %s, line %u: not a "
				     "KEY=VALUE line; write lines such as "
				     "username=NAME and password=SECRET",
				     path, lineno);
	for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t');)
		end--;
	*end = '\0';
	if (!*key)
		return volfs_err_set(err, -EINVAL,
				     "credentials file %s, line %u: the key "
				     "before '=' is empty",
				     path, lineno);
	opt = opt_cred_key(be, key);
	if (!opt) {
		/* The key is not shown: a mistyped line may hold a secret. */
		opt_accepted(be, keys, sizeof(keys));
		return volfs_err_set(err, -EINVAL,
				     "credentials file %s, line %u: the key is "
				     "not an option of backend '%s' (not "
				     "shown, it may be a secret); keys are %s",
				     path, lineno, be->name, keys);
	}
	i = opt_find(l->v, l->n, opt);
	if (i >= 0 && (size_t)i < nopts)
		return volfs_err_set(err, -EINVAL,
				     "option '%s' is given both with -o and in "
				     "the credentials file %s (line %u): give "
				     "it once",
				     opt, path, lineno);
	if (i >= 0)
		return volfs_err_set(err, -EINVAL,
				     "credentials file %s, line %u: '%s' is "
				     "given twice: give it once",
				     path, lineno, opt);
	i = volfs_kvlist_set(l, opt, eq + 1);
	if (i < 0)
		return volfs_err_set(err, (int)i,
				     "cannot read the credentials file %s: %s",
				     path, strerror((int)-i));
	return 0;
}

/* What a file that is not a regular file is, for messages. */
static const char *opt_file_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "a special file";
}

int volfs_opts_read_credentials(const struct volfs_backend *be,
				const char *path, struct volfs_kvlist *l,
				struct volfs_err *err)
{
	size_t cap = 0, nopts = l->n;
	char *line = NULL, *p, iobuf[4096];
	unsigned lineno = 0;
	struct stat st;
	ssize_t len;
	FILE *f;
	int fd, rc = 0;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return volfs_err_set(err, -errno,
				     "cannot read the credentials file %s: %s",
				     path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = volfs_err_set(err, -errno,
				   "cannot read the credentials file %s: %s",
				   path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return volfs_err_set(err, -EINVAL,
				     "cannot read the credentials file %s: it "
				     "is %s, not a regular file; give a file "
				     "of KEY=VALUE lines",
				     path, opt_file_type(st.st_mode));
	}
	f = fdopen(fd, "r");
	if (!f) {
		rc = volfs_err_set(err, -errno,
				   "cannot read the credentials file %s: %s",
				   path, strerror(errno));
		close(fd);
		return rc;
	}
	/* Our own buffer, so that no copy of the file outlives the read. */
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		rc = volfs_err_set(err, -EPERM,
				   "refusing the credentials file %s: every "
				   "user may read or change it (mode %04o); "
				   "run 'chmod o-rwx %s' (and change the "
				   "secrets in it if others could read them)",
				   path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
				   line[len - 1] == '\r'))
			line[--len] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (!*p || *p == '#')
			continue;
		rc = opt_cred_line(be, path, lineno, p, nopts, l, err);
		if (rc < 0)
			goto out;
	}
	if (ferror(f))
		rc = volfs_err_set(err, -EIO,
				   "cannot read the credentials file %s: %s",
				   path, strerror(EIO));
out:
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(f);
	explicit_bzero(iobuf, sizeof(iobuf));
	return rc;
}

int volfs_opts_expand(const struct volfs_backend *be,
		      const struct volfs_kv *opts, size_t n,
		      struct volfs_kvlist *out, struct volfs_err *err)
{
	const char *cred = NULL;
	int rc = 0;

	for (size_t i = 0; i < n && rc >= 0; i++) {
		if (strcmp(opts[i].key, VOLFS_OPT_CREDENTIALS) == 0) {
			cred = opts[i].value;
			continue;
		}
		rc = volfs_kvlist_set(out, opts[i].key, opts[i].value);
		if (rc < 0)
			volfs_err_set(err, rc, "cannot add option '%s': %s",
				      opts[i].key, strerror(-rc));
	}
	if (rc >= 0 && cred && !volfs_opts_have_secret(be))
		rc = volfs_err_set(err, -EINVAL,
				   "option '%s' is for backends that take "
				   "credentials; backend '%s' has no secret "
				   "options",
				   VOLFS_OPT_CREDENTIALS, be->name);
	else if (rc >= 0 && cred && !*cred)
		rc = volfs_err_set(err, -EINVAL,
				   "option '%s' needs a file: give -o %s=FILE",
				   VOLFS_OPT_CREDENTIALS,
				   VOLFS_OPT_CREDENTIALS);
	else if (rc >= 0 && cred)
		rc = volfs_opts_read_credentials(be, cred, out, err);
	if (rc < 0)
		volfs_kvlist_release(out);
	return rc < 0 ? rc : 0;
}
