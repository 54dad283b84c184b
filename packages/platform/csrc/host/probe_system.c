/* probe_system.c - kernel, CPU, transparent huge pages, hugetlb and memfd. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "probe_host.h"

#define PROBE_MEMINFO_SIZE 8192

static void probe_cpu_model(dbos_probe *probe)
{
	char *text = malloc(65536);
	probe_format(probe->cpu_model, sizeof(probe->cpu_model), "unknown");
	if (!text)
		return;
	if (probe_read_text("/proc/cpuinfo", text, 65536)) {
		char *line = strstr(text, "model name");
		char *colon = line ? strchr(line, ':') : NULL;
		if (colon) {
			colon += 1 + strspn(colon + 1, " \t");
			size_t length = strcspn(colon, "\n");
			probe_format(probe->cpu_model, sizeof(probe->cpu_model), "%.*s", (int)length, colon);
		}
	}
	free(text);
}

/* A "Name:   123 kB" line of /proc/meminfo; 0 when absent. */
static uint64_t meminfo_value(const char *text, const char *name)
{
	const char *line = strstr(text, name);
	if (!line)
		return 0;
	return strtoull(line + strlen(name), NULL, 10);
}

static void probe_hugetlb(dbos_probe *probe)
{
	char text[PROBE_MEMINFO_SIZE];
	if (!probe_read_text("/proc/meminfo", text, sizeof(text)))
		return;
	probe->hugetlb_total = meminfo_value(text, "HugePages_Total:");
	probe->hugetlb_free = meminfo_value(text, "HugePages_Free:");
	probe->hugetlb_page_size = meminfo_value(text, "Hugepagesize:") * 1024;
}

static void probe_memfd(dbos_probe *probe)
{
	int fd = memfd_create("dbos-probe", MFD_CLOEXEC);
	probe->memfd = fd >= 0;
	probe->memfd_errno = fd >= 0 ? 0 : errno;
	if (fd >= 0)
		close(fd);
}

void probe_system(dbos_probe *probe)
{
	struct utsname name;
	if (uname(&name) == 0) {
		probe_format(probe->kernel_release, sizeof(probe->kernel_release), "%s", name.release);
		probe_format(probe->kernel_version, sizeof(probe->kernel_version), "%s", name.version);
	}
	probe_cpu_model(probe);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	probe->cpu_count = online > 0 ? (uint32_t)online : 1;
	probe->is_root = geteuid() == 0;
	probe_read_bracketed("/sys/kernel/mm/transparent_hugepage/enabled", probe->thp_enabled,
			     sizeof(probe->thp_enabled));
	probe_read_bracketed("/sys/kernel/mm/transparent_hugepage/shmem_enabled", probe->thp_shmem_enabled,
			     sizeof(probe->thp_shmem_enabled));
	probe_hugetlb(probe);
	probe_memfd(probe);
}
