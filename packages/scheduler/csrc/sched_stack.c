/*
 * sched_stack.c - task stacks: reserved with a guard page below, committed,
 * and kept in a bounded pool so a steady stream of tasks maps nothing.
 *
 * The header (struct sched_stack) sits at the top of its own stack, so a
 * stack costs one reservation and no other allocation.  A stack is taken
 * when a task first runs, not when it is queued: 100 000 queued tasks hold
 * no stacks.
 */
#include "sched_internal.h"

static dbos_status stack_map(size_t usable_bytes, struct sched_stack **stack_out)
{
	size_t total = usable_bytes + DBOS_PAGE_SIZE;
	void *base = NULL;
	dbos_status status = dbos_platform_reserve(total, DBOS_PAGE_SIZE, &base);
	if (status != DBOS_OK)
		return status;
	/* The lowest page stays reserved and inaccessible: an overflow faults there. */
	status = dbos_platform_commit((char *)base + DBOS_PAGE_SIZE, usable_bytes, DBOS_PROT_READ_WRITE);
	if (status != DBOS_OK) {
		dbos_platform_unreserve(base, total);
		return status;
	}
	struct sched_stack *stack = (struct sched_stack *)((char *)base + total - sizeof(struct sched_stack));
	*stack = (struct sched_stack){ .base = base, .total_bytes = total };
	*stack_out = stack;
	return DBOS_OK;
}

static void stack_unmap(struct sched_stack *stack)
{
	sched_stack_sanitizer_release(stack);
	void *base = stack->base;
	size_t total = stack->total_bytes;
	DBOS_ASSERT(dbos_platform_unreserve(base, total) == DBOS_OK);
}

dbos_status sched_stack_get(struct dbos_sched *sched, struct sched_stack **stack_out)
{
	sched_lock_acquire(&sched->stack_lock);
	struct sched_stack *stack = sched->stack_free;
	if (stack) {
		sched->stack_free = stack->next_free;
		sched->stacks_pooled--;
		sched_lock_release(&sched->stack_lock);
		stack->next_free = NULL;
		*stack_out = stack;
		return DBOS_OK;
	}
	sched_lock_release(&sched->stack_lock);
	dbos_status status = stack_map(sched->stack_bytes, &stack);
	if (status != DBOS_OK)
		return status;
	sched_lock_acquire(&sched->stack_lock);
	sched->stacks_live++;
	if (sched->stacks_live > sched->stacks_peak)
		sched->stacks_peak = sched->stacks_live;
	sched_lock_release(&sched->stack_lock);
	*stack_out = stack;
	return DBOS_OK;
}

void sched_stack_put(struct dbos_sched *sched, struct sched_stack *stack)
{
	sched_lock_acquire(&sched->stack_lock);
	if (sched->stacks_pooled < sched->stack_pool_max) {
		stack->next_free = sched->stack_free;
		sched->stack_free = stack;
		sched->stacks_pooled++;
		sched_lock_release(&sched->stack_lock);
		return;
	}
	sched->stacks_live--;
	sched_lock_release(&sched->stack_lock);
	stack_unmap(stack);
}

/* Unmap every pooled stack (shutdown: no task holds one any more). */
void sched_stack_drain(struct dbos_sched *sched)
{
	sched_lock_acquire(&sched->stack_lock);
	struct sched_stack *list = sched->stack_free;
	sched->stack_free = NULL;
	sched->stacks_live -= sched->stacks_pooled;
	sched->stacks_pooled = 0;
	sched_lock_release(&sched->stack_lock);
	while (list) {
		struct sched_stack *next = list->next_free;
		stack_unmap(list);
		list = next;
	}
}
