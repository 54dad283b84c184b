/*
 * apic.c - the local APIC in x2APIC mode (MSR access, no MMIO page): the
 * periodic timer that drives preemption and the EOI for every interrupt.
 * Needs the host's in-kernel irqchip (KVM_CREATE_IRQCHIP).
 */
#include "kernel.h"

#define MSR_APIC_BASE 0x1bu     /* IA32_APIC_BASE */
#define APIC_BASE_ENABLE 0x800u /* xAPIC global enable */
#define APIC_BASE_X2APIC 0x400u /* x2APIC mode */
#define MSR_X2APIC_TPR 0x808u   /* task priority */
#define MSR_X2APIC_EOI 0x80bu
#define MSR_X2APIC_SVR 0x80fu /* spurious vector + software enable (bit 8) */
#define MSR_X2APIC_LVT_TIMER 0x832u
#define MSR_X2APIC_TIMER_INIT 0x838u
#define MSR_X2APIC_TIMER_DIVIDE 0x83eu
#define LVT_MASKED 0x10000u
#define LVT_TIMER_PERIODIC 0x20000u
#define TIMER_DIVIDE_BY_1 0xbu
#define TIMER_PERIOD_NS_MIN 200000u /* kvm.min_timer_period_us on these hosts */

void dbos_apic_init(void)
{
	x86_wrmsr(MSR_APIC_BASE, x86_rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
	x86_wrmsr(MSR_X2APIC_SVR, 0x100u | DBOS_GUEST_VECTOR_SPURIOUS);
	x86_wrmsr(MSR_X2APIC_TPR, 0);
}

/*
 * KVM's APIC bus runs at 1 GHz, so with divide-by-1 one count is one
 * nanosecond.  Periods below KVM's minimum are raised to it by KVM anyway;
 * we clamp so the requested and the real period agree.
 */
void dbos_apic_timer_start(uint64_t period_ns)
{
	if (period_ns < TIMER_PERIOD_NS_MIN)
		period_ns = TIMER_PERIOD_NS_MIN;
	if (period_ns > UINT32_MAX)
		period_ns = UINT32_MAX;
	x86_wrmsr(MSR_X2APIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_1);
	x86_wrmsr(MSR_X2APIC_LVT_TIMER, LVT_TIMER_PERIODIC | DBOS_GUEST_VECTOR_TIMER);
	x86_wrmsr(MSR_X2APIC_TIMER_INIT, period_ns);
}

void dbos_apic_timer_stop(void)
{
	x86_wrmsr(MSR_X2APIC_TIMER_INIT, 0);
	x86_wrmsr(MSR_X2APIC_LVT_TIMER, LVT_MASKED | DBOS_GUEST_VECTOR_TIMER);
}

void dbos_apic_eoi(void)
{
	x86_wrmsr(MSR_X2APIC_EOI, 0);
}
