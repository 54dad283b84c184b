/*
 * lib.c - the four memory functions the compiler may call and dbos/platform.h
 * promises, the one libgcc helper cores need (the image links no libgcc),
 * plus TSC time.  Byte loops keep them short to read; the engine
 * runs them natively in ring 3 on PVM.
 */
#include "kernel.h"

void *memcpy(void *restrict target, const void *restrict source, size_t size)
{
	unsigned char *t = target;
	const unsigned char *s = source;
	__asm__ volatile("rep movsb" : "+D"(t), "+S"(s), "+c"(size) : : "memory");
	return target;
}

void *memset(void *target, int value, size_t size)
{
	unsigned char *t = target;
	__asm__ volatile("rep stosb" : "+D"(t), "+c"(size) : "a"(value) : "memory");
	return target;
}

void *memmove(void *target, const void *source, size_t size)
{
	unsigned char *t = target;
	const unsigned char *s = source;
	if (t == s || size == 0)
		return target;
	if (t < s || t >= s + size)
		return memcpy(target, source, size);
	for (size_t i = size; i > 0; i--)
		t[i - 1] = s[i - 1];
	return target;
}

int memcmp(const void *a, const void *b, size_t size)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < size; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/*
 * __builtin_popcountll without -mpopcnt compiles to a call of this libgcc
 * routine (cores count set bits in dirty-page bitmaps).  SWAR: sum bits in
 * 2-, 4- and 8-bit fields, then add the bytes with one multiply.
 */
int __popcountdi2(long long value);
int __popcountdi2(long long value)
{
	unsigned long long x = (unsigned long long)value;
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (int)((x * 0x0101010101010101ull) >> 56);
}

size_t strlen(const char *text)
{
	size_t length = 0;
	while (text[length])
		length++;
	return length;
}

uint64_t dbos_guest_tsc_to_ns(uint64_t ticks)
{
	uint64_t khz = dbos_guest_boot_block()->tsc_khz;
	if (khz == 0)
		return 0;
	/* Split so ticks * 1e6 cannot overflow: exact to the nanosecond. */
	return (ticks / khz) * 1000000u + ((ticks % khz) * 1000000u) / khz;
}
