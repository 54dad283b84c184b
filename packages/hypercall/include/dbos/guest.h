/*
 * dbos/guest.h - the in-process VMM: boot a dbos guest image (the guest
 * kernel and an engine's entry points) on /dev/kvm inside the calling
 * process, run its named entry points on vCPUs, serve its hypercalls against
 * host file descriptors the caller grants.
 *
 * Guest RAM is a memfd mapped into this process at one offset, so the host
 * reads and writes guest-physical memory directly (dbos_guest_memory_*).
 * Each vCPU has its own host thread; a call blocks its caller until the entry
 * point returns or the guest fails.  Guest failures (panic, triple fault,
 * emulation failure, exit) are DBOS_EGUEST with a dbos_guest_failure report;
 * they never take the host process down.
 */
#ifndef DBOS_GUEST_H
#define DBOS_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/guest_abi.h"
#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dbos_guest dbos_guest;

enum dbos_guest_kvm {
	DBOS_GUEST_KVM_NONE = 0,     /* no usable /dev/kvm */
	DBOS_GUEST_KVM_HARDWARE = 1, /* VT-x / AMD-V: guest ring 0 runs natively */
	DBOS_GUEST_KVM_PVM = 2,      /* kvm_pvm: guest ring 0 emulated, ring 3 native */
};

struct dbos_guest_config {
	uint64_t memory_size; /* bytes of guest RAM, 2 MiB multiple, 16 MiB .. 3 GiB */
	uint32_t vcpu_count;  /* 1 .. DBOS_GUEST_VCPU_MAX */
	int32_t engine_ring;  /* -1: pick for the KVM flavour (PVM 3, hardware 0); or 0 / 3 */
	/*
	 * The guest image to boot: the flat binary @dbos/native-build's
	 * buildGuestImage (or `dbos-native guest-image`) writes, the guest
	 * kernel linked with an engine's entry points.  Copied at start: the
	 * caller may free it when dbos_guest_start returns.
	 */
	const void *image;
	uint64_t image_size;
};

enum dbos_guest_failure_kind {
	DBOS_GUEST_FAILURE_NONE = 0,
	DBOS_GUEST_FAILURE_PANIC,          /* the guest kernel's panic record (registers, message) */
	DBOS_GUEST_FAILURE_EXIT,           /* the guest called EXIT */
	DBOS_GUEST_FAILURE_INTERNAL_ERROR, /* KVM_EXIT_INTERNAL_ERROR: emulation failed */
	DBOS_GUEST_FAILURE_SHUTDOWN,       /* KVM_EXIT_SHUTDOWN: triple fault */
	DBOS_GUEST_FAILURE_FAIL_ENTRY,     /* KVM_EXIT_FAIL_ENTRY: invalid guest state */
	DBOS_GUEST_FAILURE_PROTOCOL,       /* an exit the ABI does not allow, a corrupt ring */
	DBOS_GUEST_FAILURE_HOST,           /* a KVM ioctl failed on the host */
};

struct dbos_guest_failure {
	enum dbos_guest_failure_kind kind;
	uint32_t vcpu;
	int64_t exit_code;    /* EXIT: the guest's code */
	uint32_t exit_reason; /* KVM_EXIT_* */
	uint32_t suberror;    /* INTERNAL_ERROR suberror, FAIL_ENTRY hardware reason */
	uint32_t registers_valid;
	uint64_t cr2, cr3;
	struct dbos_guest_regs registers;
	char message[256];
};

struct dbos_guest_info {
	enum dbos_guest_kvm kvm;
	uint32_t engine_ring;
	uint32_t vcpu_count;
	uint64_t memory_size;
	uint64_t image_size;
	uint64_t boot_ns; /* VM creation to every vCPU idle in its engine loop */
	uint64_t tsc_khz;
	uint64_t scratch_gpa; /* guest RAM the guest kernel never uses */
	uint64_t scratch_size;
};

/*
 * What this machine offers: DBOS_OK with *kvm set, or DBOS_ENOTSUP /
 * DBOS_EPERM with `reason` saying why (missing /dev/kvm, permission, API
 * version, a capability).  Opens and closes /dev/kvm; creates no VM.
 */
dbos_status dbos_guest_probe(enum dbos_guest_kvm *kvm, char *reason, size_t reason_size);

/*
 * What this VMM does on this machine, as one line for probe().mechanisms:
 * the KVM flavour and engine ring, how hypercalls reach the host (doorbells,
 * rings) and how the host does the I/O; "unavailable: <reason>" where
 * dbos_guest_probe fails.  Opens and closes /dev/kvm; creates no VM.
 */
void dbos_guest_mechanism(char *text, size_t text_size);

/*
 * Boot a guest from config->image; on failure `reason` says why.  A missing
 * or malformed image is DBOS_EINVAL, one built for another ABI version
 * DBOS_ENOTSUP; both are refused before /dev/kvm is opened.
 */
dbos_status dbos_guest_start(const struct dbos_guest_config *config, dbos_guest **guest_out, char *reason,
			     size_t reason_size);

/*
 * Stop every vCPU (running calls fail with DBOS_ECLOSED), close every fd and
 * unmap guest RAM.  Idempotent; one thread at a time.  The handle stays valid
 * (calls return DBOS_ECLOSED) until dbos_guest_destroy.
 */
void dbos_guest_stop(dbos_guest *guest);

/* Stop if needed, then free the handle.  No call may be in progress or start later. */
void dbos_guest_destroy(dbos_guest *guest);

void dbos_guest_info_get(const dbos_guest *guest, struct dbos_guest_info *info);

/* The guest address of a named entry point (DBOS_GUEST_ENTRY) of the image, or DBOS_ENOENT. */
dbos_status dbos_guest_entry_find(const dbos_guest *guest, const char *name, uint64_t *function_out);

/* Name of entry `index` (0-based), or NULL past the end. */
const char *dbos_guest_entry_name(const dbos_guest *guest, uint32_t index);

/*
 * Run `function(args[0..3])` on vCPU `vcpu` and wait for its result.
 * DBOS_EBUSY when that vCPU is already running a call, DBOS_ECLOSED when the
 * guest is stopping, DBOS_EGUEST when the guest failed (now or earlier):
 * *failure gets the report.
 */
dbos_status dbos_guest_call(dbos_guest *guest, uint32_t vcpu, uint64_t function,
			    const uint64_t args[DBOS_GUEST_ENTRY_ARGS], int64_t *result_out,
			    struct dbos_guest_failure *failure);

/*
 * The end of an async call: `status` and `result` as dbos_guest_call gives
 * them; `failure` is the report when status is DBOS_EGUEST, else NULL.  Runs
 * on the vCPU's host thread: it must be short and must not call into this
 * guest (no call, no stop).
 */
typedef void (*dbos_guest_call_done_fn)(void *context, dbos_status status, int64_t result,
					const struct dbos_guest_failure *failure);

/*
 * Post `function(args[0..3])` to vCPU `vcpu` and return at once.  DBOS_OK:
 * `done` will run exactly once, on the vCPU's thread, when the call ends
 * (DBOS_ECLOSED if dbos_guest_stop ends it first; stop returns only after
 * every `done` ran).  Any other status (DBOS_EBUSY, DBOS_ECLOSED,
 * DBOS_EGUEST: see dbos_guest_failure_get) refuses the call and `done` never
 * runs.  Nothing waits on the calling thread, so a caller that must not block
 * (an event loop) needs no thread of its own.
 */
dbos_status dbos_guest_call_async(dbos_guest *guest, uint32_t vcpu, uint64_t function,
				  const uint64_t args[DBOS_GUEST_ENTRY_ARGS], dbos_guest_call_done_fn done,
				  void *context);

/* The guest's first failure: true and *failure filled when it failed, else false. */
bool dbos_guest_failure_get(dbos_guest *guest, struct dbos_guest_failure *failure);

/*
 * The rights a descriptor carries into the guest.  A read-only grant refuses
 * every write the guest asks for (PWRITE, PWRITEV, FTRUNCATE, FALLOCATE:
 * -EBADF, as Linux answers a write to a descriptor not open for writing) and,
 * beneath a directory, every OPENAT that could write, create or truncate
 * (write access, O_CREAT, O_TRUNC, O_TMPFILE, O_PATH: -EROFS); whatever is
 * opened beneath a read-only directory is read-only itself.  A read-write
 * grant allows what the host descriptor allows.
 */
enum dbos_guest_access {
	DBOS_GUEST_ACCESS_READ_ONLY = 0,
	DBOS_GUEST_ACCESS_READ_WRITE = 1,
};

/*
 * Give the guest a duplicate of `host_fd` with `access` rights; *guest_fd_out
 * is its number in the guest.  DBOS_EINVAL: `host_fd` is not open (or access
 * is unknown); DBOS_EPERM: read-write asked for a file the host descriptor
 * cannot write (opened O_RDONLY or O_PATH); DBOS_ELIMIT: the guest's table is
 * full; DBOS_ECLOSED: stopped.
 */
dbos_status dbos_guest_fd_grant(dbos_guest *guest, int host_fd, enum dbos_guest_access access, int32_t *guest_fd_out);

/* Take a descriptor away from the guest (closes the guest's duplicate). */
dbos_status dbos_guest_fd_revoke(dbos_guest *guest, int32_t guest_fd);

/* Copy guest-physical memory; DBOS_ERANGE outside guest RAM. */
dbos_status dbos_guest_memory_read(const dbos_guest *guest, uint64_t gpa, void *target, size_t size);
dbos_status dbos_guest_memory_write(dbos_guest *guest, uint64_t gpa, const void *source, size_t size);

/* Move up to `size` bytes of the guest's LOG output into `target`; returns bytes copied. */
size_t dbos_guest_log_take(dbos_guest *guest, char *target, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_GUEST_H */
