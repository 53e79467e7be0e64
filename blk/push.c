// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The daemon's completion function, in a file of its own so that host-side
 * tests, which supply their own, do not have to link the library.
 * Thread model: the queue's thread.
 */
#include "blk.h"

void blk_complete_vq(struct blk_queue *q, struct vdk_req *req, uint32_t len)
{
	vdk_vq_push(q->vq, req, len);
}
