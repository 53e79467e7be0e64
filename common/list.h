/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A circular doubly linked list with a sentinel head; header-only.  The
 * caller embeds struct link in its entries and locks as it needs.
 */
#ifndef VDK_COMMON_LIST_H
#define VDK_COMMON_LIST_H

#include <stdbool.h>

struct link {
	struct link *next, *prev;
};

static inline void list_init(struct link *l)
{
	l->next = l->prev = l;
}

static inline bool list_empty(const struct link *l)
{
	return l->next == l;
}

/* Unlinks @e; it is then an empty list of its own. */
static inline void list_del(struct link *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = e->prev = e;
}

static inline void list_add_tail(struct link *l, struct link *e)
{
	e->prev = l->prev;
	e->next = l;
	l->prev->next = e;
	l->prev = e;
}

/* Moves every entry of @from to the front of @to, keeping their order. */
static inline void list_splice_front(struct link *to, struct link *from)
{
	if (list_empty(from))
		return;
	from->prev->next = to->next;
	to->next->prev = from->prev;
	to->next = from->next;
	from->next->prev = to;
	list_init(from);
}

#endif /* VDK_COMMON_LIST_H */
