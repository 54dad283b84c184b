// baseline.cc - what a competent user writes without dbos, for bench/run.ts: plain mmap, madvise and
// a memfd, each batch in one JavaScript call like dbos's own, so the two columns differ only in
// what happens inside the call.  Built with buildTestAddon into .ctest/; never part of the addon.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace {

constexpr size_t kPage = 4096;

struct Mapping {
	uint8_t *base = nullptr;
	size_t pages = 0;
	int memfd = -1; // frames: the memfd whose pages remaps show
};

void Fail(Napi::Env env, const char *what)
{
	throw Napi::Error::New(env, std::string(what) + ": " + std::strerror(errno));
}

Mapping *MappingOf(const Napi::Value &value)
{
	return value.As<Napi::External<Mapping>>().Data();
}

size_t Count(const Napi::Value &value)
{
	return (size_t)value.As<Napi::Number>().Int64Value();
}

Napi::Value Wrap(Napi::Env env, Mapping *mapping)
{
	return Napi::External<Mapping>::New(env, mapping, [](Napi::Env, Mapping *done) {
		if (done->base != nullptr)
			munmap(done->base, done->pages * kPage);
		if (done->memfd >= 0)
			close(done->memfd);
		delete done;
	});
}

// anonymous(pages): a private anonymous read-write mapping, like a region mapped read-write
Napi::Value Anonymous(const Napi::CallbackInfo &info)
{
	Mapping *mapping = new Mapping();
	mapping->pages = Count(info[0]);
	void *base = mmap(nullptr, mapping->pages * kPage, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		delete mapping;
		Fail(info.Env(), "mmap");
	}
	mapping->base = (uint8_t *)base;
	return Wrap(info.Env(), mapping);
}

// frames(frameCount, slotCount): a memfd of frameCount pages and slotCount reserved slots to map them at
Napi::Value Frames(const Napi::CallbackInfo &info)
{
	Mapping *mapping = new Mapping();
	size_t frames = Count(info[0]);
	mapping->pages = Count(info[1]);
	mapping->memfd = memfd_create("bench-frames", MFD_CLOEXEC);
	void *base = mapping->memfd < 0 || ftruncate(mapping->memfd, (off_t)(frames * kPage)) != 0
			     ? MAP_FAILED
			     : mmap(nullptr, mapping->pages * kPage, PROT_NONE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		if (mapping->memfd >= 0)
			close(mapping->memfd);
		delete mapping;
		Fail(info.Env(), "memfd frames");
	}
	mapping->base = (uint8_t *)base;
	return Wrap(info.Env(), mapping);
}

// populate(mapping, pages: Uint32Array): back each page (untimed preparation)
Napi::Value Populate(const Napi::CallbackInfo &info)
{
	Mapping *mapping = MappingOf(info[0]);
	Napi::Uint32Array pages = info[1].As<Napi::Uint32Array>();
	for (size_t i = 0; i < pages.ElementLength(); i++) {
		if (madvise(mapping->base + (size_t)pages[i] * kPage, kPage, MADV_POPULATE_WRITE) != 0)
			Fail(info.Env(), "madvise(MADV_POPULATE_WRITE)");
	}
	return info.Env().Undefined();
}

// discardRange(mapping, first, count): one madvise(MADV_DONTNEED) over adjacent pages
Napi::Value DiscardRange(const Napi::CallbackInfo &info)
{
	Mapping *mapping = MappingOf(info[0]);
	if (madvise(mapping->base + Count(info[1]) * kPage, Count(info[2]) * kPage, MADV_DONTNEED) != 0)
		Fail(info.Env(), "madvise(MADV_DONTNEED)");
	return info.Env().Undefined();
}

// discardEach(mapping, pages: Uint32Array): one madvise(MADV_DONTNEED) per page
Napi::Value DiscardEach(const Napi::CallbackInfo &info)
{
	Mapping *mapping = MappingOf(info[0]);
	Napi::Uint32Array pages = info[1].As<Napi::Uint32Array>();
	for (size_t i = 0; i < pages.ElementLength(); i++) {
		if (madvise(mapping->base + (size_t)pages[i] * kPage, kPage, MADV_DONTNEED) != 0)
			Fail(info.Env(), "madvise(MADV_DONTNEED)");
	}
	return info.Env().Undefined();
}

void MapFrames(Napi::Env env, Mapping *mapping, size_t slot, size_t frame, size_t count)
{
	void *address = mapping->base + slot * kPage;
	if (mmap(address, count * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mapping->memfd,
		 (off_t)(frame * kPage)) != address)
		Fail(env, "mmap(MAP_FIXED)");
}

// remapRange(frames, firstSlot, firstFrame, count): one MAP_FIXED mmap of adjacent frames at adjacent slots
Napi::Value RemapRange(const Napi::CallbackInfo &info)
{
	MapFrames(info.Env(), MappingOf(info[0]), Count(info[1]), Count(info[2]), Count(info[3]));
	return info.Env().Undefined();
}

// remapEach(frames, slots: Uint32Array, frames: Uint32Array): one MAP_FIXED mmap per page
Napi::Value RemapEach(const Napi::CallbackInfo &info)
{
	Mapping *mapping = MappingOf(info[0]);
	Napi::Uint32Array slots = info[1].As<Napi::Uint32Array>();
	Napi::Uint32Array frames = info[2].As<Napi::Uint32Array>();
	for (size_t i = 0; i < slots.ElementLength(); i++)
		MapFrames(info.Env(), mapping, slots[i], frames[i], 1);
	return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("anonymous", Napi::Function::New(env, Anonymous));
	exports.Set("frames", Napi::Function::New(env, Frames));
	exports.Set("populate", Napi::Function::New(env, Populate));
	exports.Set("discardRange", Napi::Function::New(env, DiscardRange));
	exports.Set("discardEach", Napi::Function::New(env, DiscardEach));
	exports.Set("remapRange", Napi::Function::New(env, RemapRange));
	exports.Set("remapEach", Napi::Function::New(env, RemapEach));
	return exports;
}

} // namespace

NODE_API_MODULE(pagetable_bench_baseline, Init)
