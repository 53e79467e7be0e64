// SPDX-License-Identifier: LGPL-2.1-or-later
/* IOVA map: bounds, permissions, overflow, crossing, removal, lazy misses. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "test.h"

static uint8_t buf_a[0x1000], buf_b[0x1000], buf_top[0x1000];

static void add(struct iova_map *m, uint64_t start, uint64_t last, void *va,
		int perm)
{
	struct iova_region r = {
		.start = start, .last = last, .va = va, .perm = perm,
	};

	T_ASSERT_EQ(iova_map_add(m, &r), 0);
}

static void test_bounds(void)
{
	struct iova_map m;
	uint64_t c = 0;
	uint8_t *p;

	iova_map_init(&m, NULL, NULL);
	add(&m, 0x1000, 0x1fff, buf_a, VDK_PERM_RW);
	add(&m, 0x2000, 0x2fff, buf_b, VDK_PERM_RO);
	add(&m, UINT64_MAX - 0xfff, UINT64_MAX, buf_top, VDK_PERM_WO);

	T_ASSERT(iova_translate(&m, 0x1000, 0x1000, VDK_PERM_RW) == buf_a);
	T_ASSERT(iova_translate(&m, 0x1fff, 1, VDK_PERM_RO) == buf_a + 0xfff);
	/* Edges: one byte before, one byte past, len 0. */
	T_ASSERT(!iova_translate(&m, 0xfff, 1, VDK_PERM_RO));
	T_ASSERT(!iova_translate(&m, 0xfff, 2, VDK_PERM_RO));
	T_ASSERT(!iova_translate(&m, 0x3000, 1, VDK_PERM_RO));
	T_ASSERT(!iova_translate(&m, 0x1000, 0, VDK_PERM_RO));
	T_ASSERT(!iova_translate_prefix(&m, 0x1000, 0, VDK_PERM_RO, &c));

	/* Crossing into another region: whole-range fails, prefix splits. */
	T_ASSERT(!iova_translate(&m, 0x1ff0, 0x20, VDK_PERM_RO));
	p = iova_translate_prefix(&m, 0x1ff0, 0x20, VDK_PERM_RO, &c);
	T_ASSERT(p == buf_a + 0xff0);
	T_ASSERT_EQ(c, 0x10);
	p = iova_translate_prefix(&m, 0x2000, 0x10, VDK_PERM_RO, &c);
	T_ASSERT(p == buf_b);
	T_ASSERT_EQ(c, 0x10);
	/* Huge len: prefix stops at the region end. */
	p = iova_translate_prefix(&m, 0x1800, UINT64_MAX, VDK_PERM_RO, &c);
	T_ASSERT(p == buf_a + 0x800);
	T_ASSERT_EQ(c, 0x800);

	/* Permissions: RO region refuses writes, WO refuses reads. */
	T_ASSERT(!iova_translate(&m, 0x2000, 1, VDK_PERM_WO));
	T_ASSERT(!iova_translate(&m, 0x2000, 1, VDK_PERM_RW));
	T_ASSERT(iova_translate(&m, 0x2000, 1, VDK_PERM_RO) == buf_b);
	T_ASSERT(!iova_translate(&m, UINT64_MAX, 1, VDK_PERM_RO));
	T_ASSERT(iova_translate(&m, UINT64_MAX, 1, VDK_PERM_WO) ==
		 buf_top + 0xfff);

	/* Overflow: ranges at the top of the space and ranges that wrap. */
	T_ASSERT(iova_translate(&m, UINT64_MAX - 0xfff, 0x1000, VDK_PERM_WO) ==
		 buf_top);
	T_ASSERT(!iova_translate(&m, UINT64_MAX, 2, VDK_PERM_WO));
	T_ASSERT(!iova_translate(&m, UINT64_MAX - 0xf, UINT64_MAX,
				 VDK_PERM_WO));
	p = iova_translate_prefix(&m, UINT64_MAX - 0xf, UINT64_MAX,
				  VDK_PERM_WO, &c);
	T_ASSERT(p == buf_top + 0xff0);
	T_ASSERT_EQ(c, 0x10);
	T_ASSERT(!iova_translate(&m, 0x1000, UINT64_MAX, VDK_PERM_RO));

	iova_map_destroy(&m);
}

static void test_add_remove(void)
{
	struct iova_region r;
	struct iova_map m;
	unsigned int gen, i;
	void *page;
	int ret;

	iova_map_init(&m, NULL, NULL);
	add(&m, 0x1000, 0x1fff, buf_a, VDK_PERM_RW);

	/* Overlap and nonsense are refused with a message. */
	vdk_clear_error();
	r = (struct iova_region){ .start = 0x1800, .last = 0x27ff,
				  .va = buf_b, .perm = VDK_PERM_RO };
	T_ASSERT_EQ(iova_map_add(&m, &r), -EEXIST);
	T_ASSERT(strstr(vdk_last_error(), "overlaps"));
	r.start = 0x3000;
	r.last = 0x2fff;
	T_ASSERT_EQ(iova_map_add(&m, &r), -EINVAL);
	r.last = 0x3fff;
	r.perm = 0;
	T_ASSERT_EQ(iova_map_add(&m, &r), -EINVAL);
	r.perm = VDK_PERM_RO;
	r.va = NULL;
	T_ASSERT_EQ(iova_map_add(&m, &r), -EINVAL);

	/* Removal of an owned mapping unmaps it and bumps the generation. */
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(page != MAP_FAILED);
	r = (struct iova_region){ .start = 0x10000, .last = 0x10fff,
				  .va = page, .map_base = page,
				  .map_len = 4096, .perm = VDK_PERM_RW };
	T_ASSERT_EQ(iova_map_add(&m, &r), 0);
	T_ASSERT(iova_translate(&m, 0x10000, 16, VDK_PERM_RW) == page);

	gen = atomic_load(&m.generation);
	iova_map_remove(&m, 0x5000, 0x6000);	/* nothing there */
	T_ASSERT_EQ(atomic_load(&m.generation), gen);
	iova_map_remove(&m, 0x10800, 0x10800);
	T_ASSERT(atomic_load(&m.generation) != gen);
	T_ASSERT(!iova_translate(&m, 0x10000, 16, VDK_PERM_RW));
	/* msync fails with ENOMEM on an unmapped range. */
	T_ASSERT(msync(page, 4096, MS_ASYNC) == -1 && errno == ENOMEM);
	/* map_base NULL is not ours: still removed from the table. */
	iova_map_remove(&m, 0, UINT64_MAX);
	T_ASSERT(!iova_translate(&m, 0x1000, 1, VDK_PERM_RO));
	T_ASSERT_EQ(m.nr, 0);

	/* The table is bounded. */
	for (i = 0; i < IOVA_REGIONS_MAX; i++)
		add(&m, (uint64_t)i << 12, ((uint64_t)i << 12) + 0xfff, buf_a,
		    VDK_PERM_RO);
	r = (struct iova_region){ .start = 1ULL << 40, .last = (1ULL << 40) + 1,
				  .va = buf_a, .perm = VDK_PERM_RO };
	ret = iova_map_add(&m, &r);
	T_ASSERT_EQ(ret, -ENOSPC);
	/* Every region still answers (exercises the scan past the hint). */
	for (i = 0; i < IOVA_REGIONS_MAX; i += 37)
		T_ASSERT(iova_translate(&m, ((uint64_t)i << 12) + 5, 1,
					VDK_PERM_RO) == buf_a + 5);
	iova_map_destroy(&m);
}

struct miss_ctx {
	unsigned int calls;
	bool add_nothing;
};

static int miss(struct iova_map *m, uint64_t iova, void *opaque)
{
	struct miss_ctx *ctx = opaque;
	struct iova_region r = { .start = 0x40000, .last = 0x40fff,
				 .va = buf_b, .perm = VDK_PERM_RO };

	ctx->calls++;
	if (iova < 0x40000 || iova > 0x40fff)
		return -ENOENT;
	if (ctx->add_nothing)
		return 0;
	return iova_map_add(m, &r);
}

static void test_miss(void)
{
	struct miss_ctx ctx = { 0 };
	struct iova_map m;

	iova_map_init(&m, miss, &ctx);
	/* First lookup maps lazily, the second hits. */
	T_ASSERT(iova_translate(&m, 0x40010, 16, VDK_PERM_RO) == buf_b + 0x10);
	T_ASSERT_EQ(ctx.calls, 1);
	T_ASSERT(iova_translate(&m, 0x40020, 16, VDK_PERM_RO) == buf_b + 0x20);
	T_ASSERT_EQ(ctx.calls, 1);
	/* A miss that fails is asked once per lookup, not in a loop. */
	T_ASSERT(!iova_translate(&m, 0x90000, 1, VDK_PERM_RO));
	T_ASSERT_EQ(ctx.calls, 2);
	/* Found but wrong permission: no miss call, no mapping. */
	T_ASSERT(!iova_translate(&m, 0x40000, 1, VDK_PERM_WO));
	T_ASSERT_EQ(ctx.calls, 2);
	/* A miss that "succeeds" without adding anything still yields NULL. */
	iova_map_remove(&m, 0, UINT64_MAX);
	ctx.add_nothing = true;
	T_ASSERT(!iova_translate(&m, 0x40000, 1, VDK_PERM_RO));
	T_ASSERT_EQ(ctx.calls, 3);
	iova_map_destroy(&m);
}

int main(void)
{
	test_bounds();
	test_add_remove();
	test_miss();
	return T_EXIT_PASS;
}
