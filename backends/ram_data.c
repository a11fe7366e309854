/* SPDX-License-Identifier: MIT */
/*
 * The ram backend's daemon store: file data, in 4 KiB pages that hang off a
 * radix tree of 64-slot nodes indexed by page number (see ram.c).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ram_int.h"

uint64_t ram_span(unsigned h)
{
	return (uint64_t)1 << (RAM_NODE_SHIFT * h);
}

static unsigned ram_height_for(uint64_t idx)
{
	unsigned h = 0;

	while (idx >= ram_span(h))
		h++;
	return h;
}

/* The slot of page idx in a node at height h (whose slots are of h - 1). */
static unsigned ram_digit(uint64_t idx, unsigned h)
{
	return (unsigned)(idx >> (RAM_NODE_SHIFT * (h - 1))) &
	       (RAM_NODE_SLOTS - 1);
}

static char *ram_page(const struct ram_inode *n, uint64_t idx)
{
	const struct ram_file *f = &n->u.file;
	void *p = f->root;

	if (idx >= ram_span(f->height))
		return NULL;
	for (unsigned h = f->height; h > 0 && p; h--)
		p = ((struct ram_node *)p)->slot[ram_digit(idx, h)];
	return p;
}

static int ram_node_empty(const struct ram_node *nd)
{
	for (unsigned i = 0; i < RAM_NODE_SLOTS; i++)
		if (nd->slot[i])
			return 0;
	return 1;
}

static int ram_node_new(struct ram_acct *a, struct ram_node **out)
{
	int rc = ram_take(a, RAM_NODE_SIZE);

	if (rc)
		return rc;
	*out = calloc(1, sizeof(**out));
	if (!*out) {
		ram_untake(a, RAM_NODE_SIZE);
		return -ENOMEM;
	}
	return 0;
}

/* Frees the node in *slot. */
static void ram_node_free(struct ram_vol *v, void **slot)
{
	free(*slot);
	*slot = NULL;
	ram_uncharge(v, RAM_NODE_SIZE);
}

/* Drops the top levels of f's tree that hold nothing beyond slot 0. */
static void ram_shrink(struct ram_vol *v, struct ram_file *f)
{
	struct ram_node *nd;

	while (f->height > 0 && f->root) {
		nd = f->root;
		for (unsigned i = 1; i < RAM_NODE_SLOTS; i++)
			if (nd->slot[i])
				return;
		f->root = nd->slot[0];
		free(nd);
		ram_uncharge(v, RAM_NODE_SIZE);
		f->height--;
	}
	if (!f->root)
		f->height = 0;
}

/* Frees the empty nodes on the path to page idx below *slot (height h). */
static void ram_prune(struct ram_vol *v, void **slot, unsigned h, uint64_t idx)
{
	struct ram_node *nd = *slot;

	if (!nd || h == 0)
		return;
	ram_prune(v, &nd->slot[ram_digit(idx, h)], h - 1, idx);
	if (ram_node_empty(nd))
		ram_node_free(v, slot);
}

/*
 * Frees the pages numbered first..last below *slot, a subtree of height h
 * whose first page is base, and the nodes this leaves empty.
 */
static void ram_cut(struct ram_vol *v, struct ram_file *f, void **slot,
		    unsigned h, uint64_t base, uint64_t first, uint64_t last)
{
	struct ram_node *nd = *slot;
	uint64_t span, lo, hi;

	if (!nd || last < base || (first > base && first - base >= ram_span(h)))
		return;
	if (h == 0) {
		free(*slot);
		*slot = NULL;
		f->npages--;
		ram_uncharge(v, RAM_PAGE);
		return;
	}
	span = ram_span(h - 1);
	lo = first > base ? (first - base) / span : 0;
	hi = (last - base) / span;
	if (hi >= RAM_NODE_SLOTS)
		hi = RAM_NODE_SLOTS - 1;
	for (uint64_t i = lo; i <= hi; i++)
		ram_cut(v, f, &nd->slot[i], h - 1, base + i * span, first,
			last);
	if (ram_node_empty(nd))
		ram_node_free(v, slot);
}

/* Frees n's pages numbered first..last. */
static void ram_file_cut(struct ram_vol *v, struct ram_inode *n, uint64_t first,
			 uint64_t last)
{
	struct ram_file *f = &n->u.file;

	ram_cut(v, f, &f->root, f->height, 0, first, last);
	ram_shrink(v, f);
}

/* How many of the pages first..last below p (height h, from base) exist. */
static uint64_t ram_count(const void *p, unsigned h, uint64_t base,
			  uint64_t first, uint64_t last)
{
	const struct ram_node *nd = p;
	uint64_t span, lo, hi, n = 0;

	if (!p)
		return 0;
	if (h == 0)
		return 1;
	span = ram_span(h - 1);
	lo = first > base ? (first - base) / span : 0;
	hi = (last - base) / span;
	if (hi >= RAM_NODE_SLOTS)
		hi = RAM_NODE_SLOTS - 1;
	for (uint64_t i = lo; i <= hi; i++)
		n += ram_count(nd->slot[i], h - 1, base + i * span, first,
			       last);
	return n;
}

uint64_t ram_cost(const struct ram_inode *n, uint64_t first, uint64_t last)
{
	const struct ram_file *f = &n->u.file;
	unsigned h = ram_height_for(last);
	uint64_t have = 0, nodes = 0;

	if (first < ram_span(f->height))
		have = ram_count(f->root, f->height, 0, first,
				 last < ram_span(f->height)
					 ? last
					 : ram_span(f->height) - 1);
	if (h < f->height)
		h = f->height;
	for (unsigned l = 1; l <= h; l++)
		nodes += (last >> (RAM_NODE_SHIFT * l)) -
			 (first >> (RAM_NODE_SHIFT * l)) + 1;
	/* The new top levels, which may lie outside first..last. */
	nodes += h - f->height;
	if (have == last - first + 1)
		return 0;
	return (last - first + 1 - have) * RAM_PAGE + nodes * RAM_NODE_SIZE;
}

int ram_page_get(struct ram_acct *a, struct ram_inode *n, uint64_t idx,
		 int zero, char **page, int *fresh)
{
	struct ram_file *f = &n->u.file;
	struct ram_node *nd;
	void **slot;
	char *p;
	int rc;

	*fresh = 0;
	p = ram_page(n, idx);
	if (p) {
		*page = p;
		return 0;
	}
	rc = ram_take(a, RAM_PAGE);
	if (rc)
		return rc;
	p = zero ? calloc(1, RAM_PAGE) : malloc(RAM_PAGE);
	if (!p) {
		rc = -ENOMEM;
		goto err_untake;
	}
	/* An empty tree takes any height for free. */
	if (!f->root && f->height < ram_height_for(idx))
		f->height = ram_height_for(idx);
	while (idx >= ram_span(f->height)) {
		rc = ram_node_new(a, &nd);
		if (rc)
			goto err_prune;
		nd->slot[0] = f->root;
		f->root = nd;
		f->height++;
	}
	slot = &f->root;
	for (unsigned h = f->height; h > 0; h--) {
		if (!*slot) {
			rc = ram_node_new(a, &nd);
			if (rc)
				goto err_prune;
			*slot = nd;
		}
		slot = &((struct ram_node *)*slot)->slot[ram_digit(idx, h)];
	}
	*slot = p;
	f->npages++;
	*page = p;
	*fresh = 1;
	return 0;

err_prune:
	ram_prune(a->v, &f->root, f->height, idx);
	ram_shrink(a->v, f);
	free(p);
err_untake:
	ram_untake(a, RAM_PAGE);
	return rc;
}

uint64_t ram_next(const void *p, unsigned h, uint64_t base, uint64_t idx,
		  int hole)
{
	const struct ram_node *nd = p;
	uint64_t span, r;

	/* Nothing below p: all holes.  A page: all data. */
	if (!p)
		return !hole ? UINT64_MAX : base > idx ? base : idx;
	if (h == 0)
		return hole ? UINT64_MAX : base >= idx ? base : UINT64_MAX;
	span = ram_span(h - 1);
	for (uint64_t i = idx > base ? (idx - base) / span : 0;
	     i < RAM_NODE_SLOTS; i++) {
		r = ram_next(nd->slot[i], h - 1, base + i * span, idx, hole);
		if (r != UINT64_MAX)
			return r;
	}
	return UINT64_MAX;
}

ssize_t ram_file_read(struct ram_inode *n, char *buf, size_t size, off_t off)
{
	size_t done = 0, in, chunk;
	const char *page;

	if (off >= n->size)
		return 0;
	if (size > (uint64_t)(n->size - off))
		size = (size_t)(n->size - off);
	while (done < size) {
		uint64_t pos = (uint64_t)off + done;

		in = pos & (RAM_PAGE - 1);
		chunk = RAM_PAGE - in;
		if (chunk > size - done)
			chunk = size - done;
		page = ram_page(n, pos >> RAM_PAGE_SHIFT);
		if (page)
			memcpy(buf + done, page + in, chunk);
		else
			memset(buf + done, 0, chunk);
		done += chunk;
	}
	return (ssize_t)done;
}

ssize_t ram_file_write(struct ram_vol *v, struct ram_inode *n, const char *buf,
		       size_t size, off_t off)
{
	uint64_t first = (uint64_t)off >> RAM_PAGE_SHIFT;
	uint64_t last = ((uint64_t)off + size - 1) >> RAM_PAGE_SHIFT;
	struct ram_acct a = {.v = v};
	size_t done = 0, in, chunk;
	uint64_t cost;
	int fresh, rc = 0;
	char *page;

	cost = ram_cost(n, first, last);
	if (cost)
		ram_reserve(&a, cost);
	while (done < size) {
		uint64_t pos = (uint64_t)off + done;

		in = pos & (RAM_PAGE - 1);
		chunk = RAM_PAGE - in;
		if (chunk > size - done)
			chunk = size - done;
		rc = ram_page_get(&a, n, pos >> RAM_PAGE_SHIFT, 0, &page,
				  &fresh);
		if (rc)
			break;
		if (fresh) {
			memset(page, 0, in);
			memset(page + in + chunk, 0, RAM_PAGE - in - chunk);
		}
		memcpy(page + in, buf + done, chunk);
		done += chunk;
	}
	ram_acct_end(&a);
	if (!done)
		return rc;
	if (off + (off_t)done > n->size)
		n->size = off + (off_t)done;
	n->mtime = n->ctime = ram_now();
	return (ssize_t)done;
}

/* Zeroes the bytes of [from, to) that lie in page idx, if it exists. */
static void ram_zero_in_page(struct ram_inode *n, uint64_t idx, uint64_t from,
			     uint64_t to)
{
	char *page = ram_page(n, idx);
	uint64_t start = idx << RAM_PAGE_SHIFT, a, b;

	if (!page || to <= start)
		return;
	a = from > start ? from - start : 0;
	b = to - start < RAM_PAGE ? to - start : RAM_PAGE;
	if (a < b)
		memset(page + a, 0, b - a);
}

void ram_file_punch(struct ram_vol *v, struct ram_inode *n, uint64_t from,
		    uint64_t to)
{
	uint64_t fp = (from + RAM_PAGE - 1) >> RAM_PAGE_SHIFT;
	uint64_t lp = to >> RAM_PAGE_SHIFT;

	if (from >= to)
		return;
	ram_zero_in_page(n, from >> RAM_PAGE_SHIFT, from, to);
	ram_zero_in_page(n, (to - 1) >> RAM_PAGE_SHIFT, from, to);
	/* Pages fp..lp-1 lie wholly inside. */
	if (fp < lp)
		ram_file_cut(v, n, fp, lp - 1);
}

void ram_file_truncate(struct ram_vol *v, struct ram_inode *n, off_t size)
{
	/* Shrinking (or not growing) drops what lies past the new end,
	 * including pages fallocate kept there, as tmpfs does. */
	if (size <= n->size)
		ram_file_punch(v, n, (uint64_t)size, UINT64_MAX);
	n->size = size;
}

void ram_file_free(struct ram_vol *v, struct ram_inode *n)
{
	ram_file_cut(v, n, 0, UINT64_MAX);
}
