// SPDX-License-Identifier: LGPL-2.1-or-later
/* Request framing: split headers, missing or misplaced status and header. */
#include "blk-harness.h"

int main(void)
{
	struct blk_opts o = { .name = "t" };
	struct harness h;
	struct virtio_blk_outhdr hdr;
	uint8_t raw[16 + 512], data[512], status;
	uint8_t wbuf[513];

	h_init(&h, "memory:1M", &o);

	/* Write 512 bytes at sector 3 with the header split 5 + 7 + (4 + data). */
	h_hdr(&hdr, VIRTIO_BLK_T_OUT, 3);
	memcpy(raw, &hdr, 16);
	memset(raw + 16, 0x5a, 512);
	status = 0xff;
	T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){
		{ raw, 5, false }, { raw + 5, 7, false }, { raw + 12, 4 + 512, false },
		{ &status, 1, true } }, 4), 1);
	T_ASSERT_EQ(status, VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h.last_len, 1);

	/* Read it back with data and status sharing one writable segment. */
	h_hdr(&hdr, VIRTIO_BLK_T_IN, 3);
	memset(wbuf, 0, sizeof(wbuf));
	T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){
		{ &hdr, 16, false }, { wbuf, 513, true } }, 2), 1);
	T_ASSERT_EQ(wbuf[512], VIRTIO_BLK_S_OK);
	T_ASSERT(h_all(wbuf, 512, 0x5a));
	T_ASSERT_EQ(h.last_len, 513);

	/* A trailing empty writable segment: the status is before it. */
	status = 0xff;
	T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){
		{ &hdr, 16, false }, { data, 512, true }, { &status, 1, true },
		{ wbuf, 0, true } }, 4), 1);
	T_ASSERT_EQ(status, VIRTIO_BLK_S_OK);
	T_ASSERT(h_all(data, 512, 0x5a));

	/* No writable segment at all: nothing to answer in, pushed with 0. */
	T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){
		{ &hdr, 16, false }, { data, 512, false }, { &status, 1, false } }, 3), 1);
	T_ASSERT_EQ(h.last_len, 0);

	/* Only empty writable segments: same. */
	T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){
		{ &hdr, 16, false }, { &status, 0, true } }, 2), 1);
	T_ASSERT_EQ(h.last_len, 0);

	/* Header in a writable segment: IOERR, nothing read from it. */
	status = 0xff;
	T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){
		{ &hdr, 16, true }, { &status, 1, true } }, 2), 1);
	T_ASSERT_EQ(status, VIRTIO_BLK_S_IOERR);

	/* Header too short (12 readable bytes). */
	status = 0xff;
	T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){
		{ &hdr, 12, false }, { &status, 1, true } }, 2), 1);
	T_ASSERT_EQ(status, VIRTIO_BLK_S_IOERR);

	{
		struct blk_stats_snapshot s;

		blk_stats_read(&h.q.stats, &s);
		T_ASSERT_EQ(s.dropped, 2);
		T_ASSERT_EQ(s.errors, 2);
		T_ASSERT_EQ(s.inflight, 0);
	}
	h_fini(&h);
	return T_EXIT_PASS;
}
