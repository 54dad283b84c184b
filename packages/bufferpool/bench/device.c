/*
 * device.c - peer (c): the device itself, measured the way fio's io_uring
 * engine does (rw=randread, bs=4k, direct=1, iodepth=N): random page-sized
 * O_DIRECT reads over the page file's data pages, queue_depth of them in
 * flight at all times, on one thread with no pool behind them.  This is the
 * physical limit the pools are held to.  Raw io_uring system calls, one
 * io_uring_enter per round that submits the refills and waits for at least
 * one completion.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bpbench.h"
#include "dbos/host/io_uring.h"

struct ring {
	int fd;
	void *sq_map, *cq_map;
	size_t sq_map_size, cq_map_size;
	struct io_uring_sqe *sqes;
	size_t sqes_size;
	_Atomic unsigned *sq_head, *sq_tail, *cq_head, *cq_tail;
	unsigned *sq_mask, *sq_array, *cq_mask;
	struct io_uring_cqe *cqes;
	unsigned sq_entries;
};

static int ring_open(struct ring *ring, unsigned entries)
{
	struct io_uring_params params;
	memset(&params, 0, sizeof(params));
	memset(ring, 0, sizeof(*ring));
	ring->fd = (int)syscall(__NR_io_uring_setup, entries, &params);
	if (ring->fd < 0)
		return errno;
	ring->sq_entries = params.sq_entries;
	ring->sq_map_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
	ring->cq_map_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
	ring->sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
	ring->sq_map = mmap(NULL, ring->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd,
			    IORING_OFF_SQ_RING);
	ring->cq_map = mmap(NULL, ring->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd,
			    IORING_OFF_CQ_RING);
	ring->sqes = mmap(NULL, ring->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd,
			  IORING_OFF_SQES);
	if (ring->sq_map == MAP_FAILED || ring->cq_map == MAP_FAILED || ring->sqes == MAP_FAILED)
		return ENOMEM;
	uint8_t *sq = ring->sq_map, *cq = ring->cq_map;
	ring->sq_head = (_Atomic unsigned *)(sq + params.sq_off.head);
	ring->sq_tail = (_Atomic unsigned *)(sq + params.sq_off.tail);
	ring->sq_mask = (unsigned *)(sq + params.sq_off.ring_mask);
	ring->sq_array = (unsigned *)(sq + params.sq_off.array);
	ring->cq_head = (_Atomic unsigned *)(cq + params.cq_off.head);
	ring->cq_tail = (_Atomic unsigned *)(cq + params.cq_off.tail);
	ring->cq_mask = (unsigned *)(cq + params.cq_off.ring_mask);
	ring->cqes = (struct io_uring_cqe *)(cq + params.cq_off.cqes);
	return 0;
}

static void ring_close(struct ring *ring)
{
	if (ring->sqes && ring->sqes != MAP_FAILED)
		munmap(ring->sqes, ring->sqes_size);
	if (ring->cq_map && ring->cq_map != MAP_FAILED)
		munmap(ring->cq_map, ring->cq_map_size);
	if (ring->sq_map && ring->sq_map != MAP_FAILED)
		munmap(ring->sq_map, ring->sq_map_size);
	if (ring->fd >= 0)
		close(ring->fd);
}

static void ring_queue_read(struct ring *ring, int fd, void *buffer, uint32_t length, uint64_t offset, uint64_t tag)
{
	unsigned tail = atomic_load_explicit(ring->sq_tail, memory_order_relaxed);
	unsigned index = tail & *ring->sq_mask;
	struct io_uring_sqe *sqe = &ring->sqes[index];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->fd = fd;
	sqe->addr = (uint64_t)(uintptr_t)buffer;
	sqe->len = length;
	sqe->off = offset;
	sqe->user_data = tag;
	ring->sq_array[index] = index;
	atomic_store_explicit(ring->sq_tail, tail + 1, memory_order_release);
}

struct slot {
	void *buffer;
	uint64_t started_ns;
};

int bench_device(const struct bench_file *file, uint32_t queue_depth, double warm_seconds, double run_seconds,
		 struct bench_device_result *out)
{
	memset(out, 0, sizeof(*out));
	int fd = open(file->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct ring ring;
	int error = ring_open(&ring, queue_depth < 8 ? 8 : queue_depth);
	struct slot *slots = calloc(queue_depth, sizeof(*slots));
	uint8_t *buffers = mmap(NULL, (size_t)queue_depth * file->page_size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	struct bench_histogram *latency = calloc(1, sizeof(*latency));
	if (error || !slots || buffers == MAP_FAILED || !latency) {
		ring_close(&ring);
		close(fd);
		free(slots);
		free(latency);
		if (buffers != MAP_FAILED)
			munmap(buffers, (size_t)queue_depth * file->page_size);
		return error ? error : ENOMEM;
	}
	uint64_t random = 0x853c49e6748fea9bull;
	uint64_t now = bench_now_ns();
	uint64_t timed_from = now + (uint64_t)(warm_seconds * 1e9);
	uint64_t timed_until = timed_from + (uint64_t)(run_seconds * 1e9);
	unsigned to_submit = 0;
	for (uint32_t s = 0; s < queue_depth; s++) {
		slots[s].buffer = buffers + (size_t)s * file->page_size;
		random ^= random << 13, random ^= random >> 7, random ^= random << 17;
		uint64_t pid = file->first_pid + random % file->page_count;
		slots[s].started_ns = now;
		ring_queue_read(&ring, fd, slots[s].buffer, file->page_size, pid * file->page_size, s);
		to_submit++;
	}
	uint64_t in_flight = queue_depth;
	uint64_t timed_reads = 0;
	while (in_flight) {
		int entered = (int)syscall(__NR_io_uring_enter, ring.fd, to_submit, 1, IORING_ENTER_GETEVENTS, NULL, 0);
		if (entered < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) {
			error = errno;
			break;
		}
		if (entered > 0)
			to_submit -= (unsigned)entered;
		now = bench_now_ns();
		bool stopping = now >= timed_until;
		unsigned head = atomic_load_explicit(ring.cq_head, memory_order_relaxed);
		unsigned tail = atomic_load_explicit(ring.cq_tail, memory_order_acquire);
		for (; head != tail; head++) {
			struct io_uring_cqe *cqe = &ring.cqes[head & *ring.cq_mask];
			struct slot *slot = &slots[cqe->user_data];
			if (cqe->res != (int32_t)file->page_size)
				out->errors++;
			if (now >= timed_from && now <= timed_until) {
				timed_reads++;
				bench_histogram_add(latency, now - slot->started_ns);
			}
			in_flight--;
			if (stopping)
				continue;
			random ^= random << 13, random ^= random >> 7, random ^= random << 17;
			uint64_t pid = file->first_pid + random % file->page_count;
			slot->started_ns = now;
			ring_queue_read(&ring, fd, slot->buffer, file->page_size, pid * file->page_size,
					(uint64_t)(slot - slots));
			to_submit++;
			in_flight++;
		}
		atomic_store_explicit(ring.cq_head, head, memory_order_release);
	}
	out->reads = timed_reads;
	/* Reads completed in the window, over the window. */
	out->seconds = run_seconds;
	out->reads_per_second = (double)timed_reads / run_seconds;
	out->p50_us = (double)bench_histogram_percentile_ns(latency, 50) / 1e3;
	out->p99_us = (double)bench_histogram_percentile_ns(latency, 99) / 1e3;
	ring_close(&ring);
	munmap(buffers, (size_t)queue_depth * file->page_size);
	free(latency);
	free(slots);
	close(fd);
	return error;
}
