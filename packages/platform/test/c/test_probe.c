/* test_probe.c - dbos_probe_run agrees with what /proc and /sys say, read here independently. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

#include "dbos/probe.h"
#include "dbos_test.h"

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static bool cpuinfo_has(const char *word)
{
	FILE *file = fopen("/proc/cpuinfo", "r");
	char line[8192];
	bool found = false;
	while (file && !found && fgets(line, sizeof(line), file)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		char pattern[32];
		snprintf(pattern, sizeof(pattern), " %s", word);
		char *at = strstr(line, pattern);
		found = at && (at[strlen(pattern)] == ' ' || at[strlen(pattern)] == '\n');
	}
	if (file)
		fclose(file);
	return found;
}

static void test_kvm_kind_matches_the_machine(void)
{
	dbos_probe probe;
	REQUIRE(dbos_probe_run(&probe) == DBOS_OK);
	bool opens = false;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		opens = true;
		close(fd);
	}
	bool hardware_flag = cpuinfo_has("vmx") || cpuinfo_has("svm");
	CHECK_EQ(probe.kvm.device_opens, opens);
	CHECK_EQ(probe.kvm.cpu_vmx || probe.kvm.cpu_svm, hardware_flag);
	if (!opens)
		CHECK_EQ(probe.kvm.kind, DBOS_KVM_NONE);
	if (opens && exists("/sys/module/kvm_pvm") && !hardware_flag)
		CHECK_EQ(probe.kvm.kind, DBOS_KVM_PVM);
	if (probe.kvm.kind == DBOS_KVM_HARDWARE)
		CHECK(hardware_flag);
	if (opens)
		CHECK_EQ(probe.kvm.api_version, 12);
	CHECK(strlen(probe.kvm.reason) > 10);
	printf("# kvm: %s (%s)\n", dbos_kvm_kind_name(probe.kvm.kind), probe.kvm.reason);
}

static void test_system_fields(void)
{
	dbos_probe probe;
	REQUIRE(dbos_probe_run(&probe) == DBOS_OK);
	CHECK_EQ(probe.cpu_count, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	CHECK(strlen(probe.kernel_release) > 0);
	CHECK(strcmp(probe.cpu_model, "") != 0);
	CHECK(probe.memfd); /* every kernel dbos supports has memfd_create */
	FILE *file = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	int disabled = -1;
	if (file) {
		if (fscanf(file, "%d", &disabled) != 1)
			disabled = -1;
		fclose(file);
	}
	CHECK_EQ(probe.io_uring.disabled_sysctl, disabled);
	if (disabled == 2)
		CHECK(!probe.io_uring.setup_works);
	CHECK(strcmp(probe.thp_enabled, "always") == 0 || strcmp(probe.thp_enabled, "madvise") == 0 ||
	      strcmp(probe.thp_enabled, "never") == 0 || strcmp(probe.thp_enabled, "unknown") == 0);
	if (probe.uffd.available && (probe.uffd.features & DBOS_UFFD_FEATURE_WP_ASYNC))
		CHECK(probe.uffd.features & DBOS_UFFD_FEATURE_WP);
}

/* A working /dev/kvm with the given modules and CPU flags. */
static dbos_probe_kvm evidence(bool pvm, bool intel, bool amd, bool vmx, bool svm)
{
	dbos_probe_kvm kvm;
	memset(&kvm, 0, sizeof(kvm));
	kvm.device_present = kvm.device_opens = kvm.vm_creates = true;
	kvm.api_version = 12;
	kvm.module_pvm = pvm;
	kvm.module_intel = intel;
	kvm.module_amd = amd;
	kvm.cpu_vmx = vmx;
	kvm.cpu_svm = svm;
	return kvm;
}

static enum dbos_kvm_kind verdict(dbos_probe_kvm kvm)
{
	dbos_probe_kvm_classify(&kvm);
	CHECK(strlen(kvm.reason) > 10);
	return kvm.kind;
}

static void test_kvm_verdict_for_every_combination(void)
{
	CHECK_EQ(verdict(evidence(true, false, false, false, false)), DBOS_KVM_PVM);      /* this machine */
	CHECK_EQ(verdict(evidence(true, true, false, true, false)), DBOS_KVM_PVM);        /* kvm_pvm beside kvm_intel */
	CHECK_EQ(verdict(evidence(true, false, true, false, true)), DBOS_KVM_PVM);        /* kvm_pvm beside kvm_amd */
	CHECK_EQ(verdict(evidence(false, true, false, true, false)), DBOS_KVM_HARDWARE);  /* VT-x */
	CHECK_EQ(verdict(evidence(false, false, true, false, true)), DBOS_KVM_HARDWARE);  /* AMD-V */
	CHECK_EQ(verdict(evidence(false, false, false, true, false)), DBOS_KVM_HARDWARE); /* module hidden, vmx shown */
	CHECK_EQ(verdict(evidence(false, false, false, false, false)), DBOS_KVM_PVM);     /* neither: software */
	dbos_probe_kvm closed = evidence(false, true, false, true, false);
	closed.device_opens = false;
	closed.open_errno = 13;
	CHECK_EQ(verdict(closed), DBOS_KVM_NONE);
	dbos_probe_kvm old = evidence(false, true, false, true, false);
	old.api_version = 11;
	CHECK_EQ(verdict(old), DBOS_KVM_NONE);
}

static void test_cached_probe_is_one_probe(void)
{
	const dbos_probe *first = dbos_probe_cached();
	REQUIRE(first != NULL);
	CHECK(first == dbos_probe_cached());
	dbos_probe fresh;
	REQUIRE(dbos_probe_run(&fresh) == DBOS_OK);
	CHECK_EQ(first->kvm.kind, fresh.kvm.kind);
	CHECK_EQ(first->uffd.available, fresh.uffd.available);
	CHECK_EQ(first->io_uring.setup_works, fresh.io_uring.setup_works);
	CHECK_EQ(dbos_probe_run(NULL), DBOS_EINVAL);
}

int main(void)
{
	RUN_TEST(test_kvm_kind_matches_the_machine);
	RUN_TEST(test_system_fields);
	RUN_TEST(test_kvm_verdict_for_every_combination);
	RUN_TEST(test_cached_probe_is_one_probe);
	return TEST_EXIT_STATUS();
}
