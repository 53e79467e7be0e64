// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * IOVA -> host address translation for the driver's memory.
 *
 * The table is small (a handful of IOTLB entries in practice), so a linear
 * scan is cheaper than anything cleverer.  Queue threads translate
 * concurrently and without a lock: a region is written before the count
 * that publishes it (release/acquire), and published regions never change.
 * Removing regions is the one thing lookups cannot race with; the device
 * layer only removes them after stopping every queue (reset, IOTLB update,
 * release).  Adding (a lazy miss) and removing take the write lock.
 */
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

/*
 * Index of the region that satisfied this thread's last lookup.  Consecutive
 * descriptors usually sit in the same region.  It is only a hint: it is
 * re-validated under the lock, so it may be stale or belong to another map.
 */
static __thread unsigned int last_hit;

void iova_map_init(struct iova_map *map, iova_miss_fn miss, void *opaque)
{
	pthread_rwlock_init(&map->lock, NULL);
	map->nr = 0;
	map->miss = miss;
	map->miss_opaque = opaque;
	atomic_init(&map->generation, 0);
}

static void region_unmap(struct iova_region *r)
{
	/* map_base NULL means the memory belongs to someone else. */
	if (r->map_base)
		munmap(r->map_base, r->map_len);
}

void iova_map_destroy(struct iova_map *map)
{
	unsigned int i;

	for (i = 0; i < map->nr; i++)
		region_unmap(&map->regions[i]);
	map->nr = 0;
	atomic_fetch_add(&map->generation, 1);
	pthread_rwlock_destroy(&map->lock);
}

int iova_map_add(struct iova_map *map, const struct iova_region *r)
{
	unsigned int i;

	if (r->start > r->last || !r->va || !(r->perm & VDK_PERM_RW) ||
	    (r->perm & ~VDK_PERM_RW))
		return vdk_set_error(-EINVAL,
			"invalid IOVA region 0x%llx-0x%llx (perm %d)",
			(unsigned long long)r->start,
			(unsigned long long)r->last, r->perm);
	if (map->nr == IOVA_REGIONS_MAX)
		return vdk_set_error(-ENOSPC,
			"too many IOVA regions (at most %d)", IOVA_REGIONS_MAX);
	/* Overlaps would make a lookup's answer depend on table order. */
	for (i = 0; i < map->nr; i++) {
		const struct iova_region *o = &map->regions[i];

		if (r->start <= o->last && o->start <= r->last)
			return vdk_set_error(-EEXIST,
				"IOVA region 0x%llx-0x%llx overlaps 0x%llx-0x%llx",
				(unsigned long long)r->start,
				(unsigned long long)r->last,
				(unsigned long long)o->start,
				(unsigned long long)o->last);
	}
	map->regions[map->nr] = *r;
	/* Lock-free readers see the region whole once they see the count. */
	__atomic_store_n(&map->nr, map->nr + 1, __ATOMIC_RELEASE);
	return 0;
}

void iova_map_remove(struct iova_map *map, uint64_t start, uint64_t last)
{
	unsigned int i = 0, removed = 0;

	pthread_rwlock_wrlock(&map->lock);
	while (i < map->nr) {
		struct iova_region *r = &map->regions[i];

		if (r->start <= last && start <= r->last) {
			region_unmap(r);
			/* Order does not matter; fill the hole from the end. */
			*r = map->regions[--map->nr];
			removed++;
			continue;
		}
		i++;
	}
	if (removed)
		atomic_fetch_add(&map->generation, 1);
	pthread_rwlock_unlock(&map->lock);
}

static inline bool region_has(const struct iova_region *r, uint64_t iova)
{
	return iova >= r->start && iova <= r->last;
}

/* Region containing @iova, or NULL.  See the top of the file on locking. */
static const struct iova_region *lookup(struct iova_map *map, uint64_t iova)
{
	unsigned int i, hint = last_hit;
	unsigned int nr = __atomic_load_n(&map->nr, __ATOMIC_ACQUIRE);

	if (hint < nr && region_has(&map->regions[hint], iova))
		return &map->regions[hint];
	for (i = 0; i < nr; i++) {
		if (region_has(&map->regions[i], iova)) {
			last_hit = i;
			return &map->regions[i];
		}
	}
	return NULL;
}

/*
 * Checks permission and computes the contiguous prefix.  Written so that
 * nothing overflows: r->last - iova is at most UINT64_MAX - 1 here, and
 * len - 1 is safe because len >= 1.
 */
static void *resolve(const struct iova_region *r, uint64_t iova, uint64_t len,
		     int perm, uint64_t *contig)
{
	uint64_t room = r->last - iova;	/* bytes after iova's byte */

	if ((r->perm & perm) != perm)
		return NULL;
	*contig = (len - 1 < room ? len - 1 : room) + 1;
	return r->va + (iova - r->start);
}

void *iova_translate_prefix(struct iova_map *map, uint64_t iova, uint64_t len,
			    int perm, uint64_t *contig)
{
	const struct iova_region *r;
	void *p = NULL;
	int ret;

	/* An empty range has no first byte to vouch for. */
	if (!len)
		return NULL;

	r = lookup(map, iova);
	if (r)
		return resolve(r, iova, len, perm, contig);
	if (!map->miss)
		return NULL;

	/*
	 * Slow path: map it lazily.  Another thread may have done so between
	 * the two locks, hence the re-check before calling @miss.
	 */
	pthread_rwlock_wrlock(&map->lock);
	r = lookup(map, iova);
	if (!r) {
		ret = map->miss(map, iova, map->miss_opaque);
		if (!ret)
			r = lookup(map, iova);
	}
	if (r)
		p = resolve(r, iova, len, perm, contig);
	pthread_rwlock_unlock(&map->lock);
	return p;
}

void *iova_translate(struct iova_map *map, uint64_t iova, uint64_t len, int perm)
{
	uint64_t contig = 0;
	void *p;

	p = iova_translate_prefix(map, iova, len, perm, &contig);
	if (!p || contig != len)
		return NULL;
	return p;
}
