/* SPDX-License-Identifier: MIT */
/*
 * The smb store's options (share=, credentials, encrypt=, owners and
 * modes, timeout=, connections=; the staging layer reads its own) and the
 * URLs libsmbclient is given.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "smb_int.h"

static const char *const smb_encs[] = { "required", "desired", "off", NULL };

static int smb_parse_uint(const char *s, unsigned base, uint64_t max,
			  uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		unsigned d;

		if (*p < '0' || *p >= (char)('0' + base))
			return -EINVAL;
		d = (unsigned)(*p - '0');
		if (v > (max - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static int smb_host_ok(const char *h)
{
	if (!*h)
		return 0;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '.' || *h == '-'))
			return 0;
	return 1;
}

/* "//HOST[:PORT]/SHARE[/SUBDIR]" into p. */
static int smb_parse_share(const char *s, struct smb_params *p, char *err,
			   size_t errlen)
{
	const char *h, *slash, *colon, *sh, *sub;
	uint64_t port;
	size_t len;

	if (strncmp(s, "//", 2) != 0)
		goto bad;
	h = s + 2;
	slash = strchr(h, '/');
	if (!slash)
		goto bad;
	colon = memchr(h, ':', (size_t)(slash - h));
	len = (size_t)((colon ? colon : slash) - h);
	if (len == 0 || len >= sizeof(p->host))
		goto bad;
	memcpy(p->host, h, len);
	p->host[len] = '\0';
	if (!smb_host_ok(p->host))
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'share': '%s' is not a host "
				     "name or IPv4 address",
				     p->host);
	p->port = SMB_PORT_DEFAULT;
	if (colon) {
		char buf[8];

		len = (size_t)(slash - colon - 1);
		if (len == 0 || len >= sizeof(buf))
			goto bad_port;
		memcpy(buf, colon + 1, len);
		buf[len] = '\0';
		if (smb_parse_uint(buf, 10, 65535, &port) || port == 0)
			goto bad_port;
		p->port = (unsigned)port;
	}
	sh = slash + 1;
	sub = strchr(sh, '/');
	len = sub ? (size_t)(sub - sh) : strlen(sh);
	if (len == 0 || len >= sizeof(p->share))
		goto bad;
	memcpy(p->share, sh, len);
	p->share[len] = '\0';
	p->subdir[0] = '\0';
	if (sub) {
		/* Normalise: no empty, "." or ".." component. */
		const char *c = sub + 1;
		size_t out = 0;

		while (*c) {
			const char *e = strchr(c, '/');
			size_t n = e ? (size_t)(e - c) : strlen(c);

			if ((n == 1 && c[0] == '.') ||
			    (n == 2 && c[0] == '.' && c[1] == '.'))
				return volfs_be_errf(
					err, errlen, -EINVAL,
					"option 'share': '.' and '..' are "
					"not allowed in the directory part "
					"of '%s'",
					s);
			if (n) {
				if (out + n + 2 >= sizeof(p->subdir))
					goto bad;
				if (out)
					p->subdir[out++] = '/';
				memcpy(p->subdir + out, c, n);
				out += n;
				p->subdir[out] = '\0';
			}
			c += n;
			if (*c == '/')
				c++;
		}
	}
	return 0;

bad_port:
	return volfs_be_errf(err, errlen, -EINVAL,
			     "option 'share': the port in '%s' is not a "
			     "number from 1 to 65535",
			     s);
bad:
	return volfs_be_errf(err, errlen, -EINVAL,
			     "option 'share': '%s' is not a share: write it "
			     "as //HOST[:PORT]/SHARE[/DIR], e.g. "
			     "//files.example.com/data",
			     s);
}

/*
 * Option key of vi as a number in base up to max: 0 with *v set, 1 when it
 * is not given, or -EINVAL saying it is not what (e.g. "a user id: use a
 * number, e.g. 1000").
 */
static int smb_opt_uint(const struct volfs_volinfo *vi, const char *key,
			unsigned base, uint64_t max, const char *what,
			uint64_t *v, char *err, size_t errlen)
{
	const char *s = volfs_be_opt(vi, key);

	if (!s)
		return 1;
	if (smb_parse_uint(s, base, max, v))
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option '%s': '%s' is not %s", key, s,
				     what);
	return 0;
}

int smb_params(const struct volfs_volinfo *vi, struct smb_params *p, char *err,
	       size_t errlen)
{
	const char *s;
	uint64_t v;
	unsigned ms;
	int rc;

	memset(p, 0, sizeof(*p));
	p->encrypt = SMB_ENC_DESIRED;
	p->file_mode = 0644;
	p->dir_mode = 0755;
	p->timeout_ms = SMB_TIMEOUT_DEFAULT_MS;
	p->conns = SMB_CONNS_DEFAULT;

	s = volfs_be_opt(vi, "share");
	if (!s)
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'share' is missing: give it "
				     "as -o share=//HOST/SHARE");
	rc = smb_parse_share(s, p, err, errlen);
	if (rc)
		return rc;
	p->user = volfs_be_opt(vi, "username");
	if (!p->user || !*p->user)
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'username' is missing or "
				     "empty: give the account to log in as");
	p->password = volfs_be_opt(vi, "password");
	if (!p->password)
		p->password = "";
	p->domain = volfs_be_opt(vi, "domain");
	rc = volfs_be_opt_word(vi, "encrypt", smb_encs, p->encrypt, err,
			       errlen);
	if (rc < 0)
		return rc;
	p->encrypt = rc;
	/* smb_opt_uint(): 0 with v set, 1 when the option is absent. */
	rc = smb_opt_uint(vi, "uid", 10, UINT32_MAX - 1,
			  "a user id: use a number, e.g. 1000", &v, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		p->uid = (uid_t)v;
	rc = smb_opt_uint(vi, "gid", 10, UINT32_MAX - 1,
			  "a group id: use a number, e.g. 1000", &v, err,
			  errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		p->gid = (gid_t)v;
	rc = smb_opt_uint(vi, "file_mode", 8, 0777,
			  "a mode: use octal digits up to 0777, e.g. 0644", &v,
			  err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		p->file_mode = (mode_t)v;
	rc = smb_opt_uint(vi, "dir_mode", 8, 0777,
			  "a mode: use octal digits up to 0777, e.g. 0755", &v,
			  err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		p->dir_mode = (mode_t)v;
	s = volfs_be_opt(vi, "timeout");
	if (s) {
		if (volfs_be_parse_ms(s, SMB_TIMEOUT_MAX_MS, &ms) || ms < 100)
			return volfs_be_errf(err, errlen, -EINVAL,
					     "option 'timeout': '%s' is not "
					     "a number of seconds from 0.1 to "
					     "600, e.g. 20",
					     s);
		p->timeout_ms = ms;
	}
	s = volfs_be_opt(vi, "connections");
	if (s) {
		if (smb_parse_uint(s, 10, SMB_CONNS_MAX, &v) || v == 0)
			return volfs_be_errf(err, errlen, -EINVAL,
					     "option 'connections': '%s' is "
					     "not a number from 1 to %d",
					     s, SMB_CONNS_MAX);
		p->conns = (unsigned)v;
	}
	return 0;
}

/* ---- URLs ---- */

static int smb_url_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~' || c == '/';
}

int smb_url_put(char *buf, size_t size, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*len + 4 >= size)
			return -ENAMETOOLONG;
		if (smb_url_safe(*p)) {
			buf[(*len)++] = (char)*p;
		} else {
			buf[(*len)++] = '%';
			buf[(*len)++] = hex[*p >> 4];
			buf[(*len)++] = hex[*p & 15];
		}
	}
	buf[*len] = '\0';
	return 0;
}

int smb_url(const struct smb_vol *v, const char *path, char *buf, size_t size)
{
	size_t len = strlen(v->base);

	if (len + 2 >= size)
		return -ENAMETOOLONG;
	memcpy(buf, v->base, len + 1);
	if (!*path)
		return 0;
	buf[len++] = '/';
	buf[len] = '\0';
	return smb_url_put(buf, size, &len, path);
}

char *smb_make_base(const struct smb_params *p)
{
	char buf[SMB_URL_MAX];
	size_t len;

	len = (size_t)snprintf(buf, sizeof(buf), "smb://%s/", p->host);
	if (smb_url_put(buf, sizeof(buf), &len, p->share))
		return NULL;
	if (p->subdir[0]) {
		buf[len++] = '/';
		buf[len] = '\0';
		if (smb_url_put(buf, sizeof(buf), &len, p->subdir))
			return NULL;
	}
	return strdup(buf);
}
