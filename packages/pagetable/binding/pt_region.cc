// pt_region.cc - NativeRegion: a region (struct dbos_pt_region) behind a JS handle, and its views.
//
// Views are external ArrayBuffers over region memory.  Four rules keep
// every one of them safe to touch from JavaScript:
//   1. a view pins its pages (dbos_pt_pin), so the C core refuses to make
//      them inaccessible or read-only (DBOS_EBUSY) while the view lives;
//   2. a view's record holds a strong reference to its NativeRegion, so the
//      region cannot be garbage-collected (and unmapped) under a live view,
//      and nothing on the buffer itself leads JavaScript to the handle;
//   3. close() and release() detach the ArrayBuffer first: every typed array
//      over it then has length 0, and the pages are unpinned;
//   4. a view whose memory JavaScript moved out of our reach
//      (ArrayBuffer.prototype.transfer() on Node 22+ makes a new buffer over
//      the same memory; we find the old one detached) "escaped": its pages
//      stay pinned, and close() leaves the region mapped until the last
//      escaped buffer is collected (its backing store's finalizer), so the
//      moved buffer never points at unmapped memory.
// A view the program drops is unpinned when the garbage collector frees it.
#include <unordered_set>

#include "pt_binding.h"

namespace dbos {

struct RegionHolder;

struct ViewRecord {
	RegionHolder *holder;
	uint64_t first;
	uint64_t count;
	bool pinned;
	bool escaped; // counted in holder->escaped: keeps a closing region mapped
	Napi::Reference<Napi::ArrayBuffer> weak;
	Napi::ObjectReference region; // rule 2: the NativeRegion stays alive while the view does
};

struct RegionHolder {
	dbos_pt_region *region = nullptr;
	dbos_pt_fill *fill = nullptr;
	std::unordered_set<ViewRecord *> views; // views not yet released
	size_t references = 1;                  // the NativeRegion + every view not yet finalized
	bool closed = false;                    // close() was called: every call is DBOS_ECLOSED
	size_t escaped = 0;                     // escaped views not yet finalized (rule 4)
};

static void HolderUnref(RegionHolder *holder)
{
	if (--holder->references == 0)
		delete holder;
}

// Unmap the region; its views are detached or escaped-and-gone by now.
static void HolderDestroyRegion(RegionHolder *holder)
{
	if (holder->region == nullptr)
		return;
	dbos_pt_region_destroy(holder->region); // stops faults, then unmaps
	holder->region = nullptr;
	delete holder->fill;
	holder->fill = nullptr;
}

static void ViewFinalize(Napi::Env env, void *data, ViewRecord *record)
{
	(void)env;
	(void)data;
	RegionHolder *holder = record->holder;
	if (record->pinned && holder->region != nullptr && !holder->closed)
		dbos_pt_unpin(holder->region, record->first, record->count);
	holder->views.erase(record);
	if (record->escaped && --holder->escaped == 0 && holder->closed)
		HolderDestroyRegion(holder); // the last moved buffer is gone: nothing can reach the memory
	delete record; // its references go with it (their destructors never throw, unlike Reset())
	HolderUnref(holder);
}

class NativeRegion : public Napi::ObjectWrap<NativeRegion> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "NativeRegion",
				   {
					   InstanceMethod<&NativeRegion::Map>("map"),
					   InstanceMethod<&NativeRegion::MapFrames>("mapFrames"),
					   InstanceMethod<&NativeRegion::Unmap>("unmap"),
					   InstanceMethod<&NativeRegion::Discard>("discard"),
					   InstanceMethod<&NativeRegion::Move>("move"),
					   InstanceMethod<&NativeRegion::Protect>("protect"),
					   InstanceMethod<&NativeRegion::Populate>("populate"),
					   InstanceMethod<&NativeRegion::View>("view"),
					   InstanceMethod<&NativeRegion::Release>("release"),
					   InstanceMethod<&NativeRegion::Pinned>("pinned"),
					   InstanceMethod<&NativeRegion::PageQuery>("pageQuery"),
					   InstanceMethod<&NativeRegion::DirtyStart>("dirtyStart"),
					   InstanceMethod<&NativeRegion::DirtyStop>("dirtyStop"),
					   InstanceMethod<&NativeRegion::DirtyMechanism>("dirtyMechanism"),
					   InstanceMethod<&NativeRegion::DirtyCollect>("dirtyCollect"),
					   InstanceMethod<&NativeRegion::DirtyReset>("dirtyReset"),
					   InstanceMethod<&NativeRegion::PresentCollect>("presentCollect"),
					   InstanceMethod<&NativeRegion::FaultsFill>("faultsFill"),
					   InstanceMethod<&NativeRegion::FaultsDisable>("faultsDisable"),
					   InstanceMethod<&NativeRegion::Stats>("stats"),
					   InstanceMethod<&NativeRegion::LiveViews>("liveViews"),
					   InstanceMethod<&NativeRegion::Close>("close"),
				   });
	}

	// new NativeRegion(sizeBytes, flags)
	NativeRegion(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeRegion>(info)
	{
		RequireArguments(info, 2);
		dbos_pt_region_options options = {};
		options.size = ToUint64(info[0], "size");
		options.flags = (uint32_t)ToUint64Max(info[1], "flags", UINT32_MAX);
		holder_ = new RegionHolder();
		dbos_status status = dbos_pt_region_create(&options, &holder_->region);
		if (status != DBOS_OK) {
			HolderUnref(holder_);
			holder_ = nullptr;
			ThrowIfFailed(info.Env(), status, "reserve region");
		}
		Napi::MemoryManagement::AdjustExternalMemory(info.Env(), 4096);
	}

	// Garbage-collected without close(): no view can be alive (each holds us), except at the
	// environment's teardown, where CloseRegion() handles the views still recorded.
	~NativeRegion()
	{
		if (holder_ == nullptr)
			return;
		CloseRegion(Env());
		HolderUnref(holder_);
	}

      private:
	RegionHolder *holder_ = nullptr;

	dbos_pt_region *Region(Napi::Env env)
	{
		if (holder_ == nullptr || holder_->region == nullptr || holder_->closed)
			ThrowIfFailed(env, DBOS_ECLOSED, "region is closed");
		return holder_->region;
	}

	// 1. detach every view still attached; 2. a view found detached (or already collected, with
	// its finalizer pending) may have moved: it escaped; 3. unmap now, or, when views escaped,
	// stop faults and tracking and leave the memory mapped until the last of them is finalized.
	// Runs from close() and from the destructor (also at a worker's teardown, where Node-API
	// calls may fail): it never throws, and a view it cannot detach counts as escaped.
	void CloseRegion(napi_env env)
	{
		if (holder_->region == nullptr || holder_->closed)
			return;
		holder_->closed = true;
		for (ViewRecord *record : holder_->views) {
			record->pinned = false;
			napi_value buffer = AttachedBuffer(env, record);
			if (buffer != nullptr && napi_detach_arraybuffer(env, buffer) == napi_ok)
				continue;
			record->escaped = true;
			holder_->escaped++;
		}
		holder_->views.clear();
		if (holder_->escaped == 0) {
			HolderDestroyRegion(holder_);
			return;
		}
		(void)dbos_pt_fault_disable(holder_->region);
		(void)dbos_pt_dirty_stop(holder_->region);
	}

	// The view's ArrayBuffer while it is still attached, else null (never throws).
	static napi_value AttachedBuffer(napi_env env, ViewRecord *record)
	{
		napi_value value = nullptr;
		bool detached = true;
		if (record->weak.IsEmpty() || napi_get_reference_value(env, record->weak, &value) != napi_ok ||
		    value == nullptr || napi_is_detached_arraybuffer(env, value, &detached) != napi_ok || detached)
			return nullptr;
		return value;
	}

	Napi::Value Done(const Napi::CallbackInfo &info, dbos_status status, const char *context)
	{
		ThrowIfFailed(info.Env(), status, context);
		return info.Env().Undefined();
	}

	// map(list, first, count, prot)
	Napi::Value Map(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 4);
		dbos_pt_region *region = Region(info.Env());
		return Done(info, dbos_pt_map(region, ToPages(info, 0), ToProt(info[3])), "map");
	}

	// mapFrames(list, first, count, frames, frameList, frameFirst, frameCount, prot)
	Napi::Value MapFrames(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 8);
		dbos_pt_region *region = Region(info.Env());
		dbos_pt_frames *frames = FramesOf(info.Env(), info[3]);
		return Done(info,
			    dbos_pt_map_frames(region, ToPages(info, 0), frames, ToPages(info, 4), ToProt(info[7])),
			    "map frames");
	}

	// unmap(list, first, count)
	Napi::Value Unmap(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 3);
		dbos_pt_region *region = Region(info.Env());
		return Done(info, dbos_pt_unmap(region, ToPages(info, 0)), "unmap");
	}

	// discard(list, first, count)
	Napi::Value Discard(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 3);
		dbos_pt_region *region = Region(info.Env());
		return Done(info, dbos_pt_discard(region, ToPages(info, 0)), "discard");
	}

	// move(sourceList, sourceFirst, sourceCount, targetList, targetFirst, targetCount)
	Napi::Value Move(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 6);
		dbos_pt_region *region = Region(info.Env());
		return Done(info, dbos_pt_move(region, ToPages(info, 0), ToPages(info, 3)), "move");
	}

	// protect(list, first, count, prot)
	Napi::Value Protect(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 4);
		dbos_pt_region *region = Region(info.Env());
		return Done(info, dbos_pt_protect(region, ToPages(info, 0), ToProt(info[3])), "protect");
	}

	// populate(list, first, count)
	Napi::Value Populate(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 3);
		dbos_pt_region *region = Region(info.Env());
		return Done(info, dbos_pt_populate(region, ToPages(info, 0)), "populate");
	}

	// view(offsetBytes, lengthBytes) -> ArrayBuffer over region memory, pinned
	Napi::Value View(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 2);
		dbos_pt_region *region = Region(env);
		uint64_t offset = ToUint64(info[0], "offset");
		uint64_t length = ToUint64(info[1], "length");
		uint64_t size = dbos_pt_region_size(region);
		if (length == 0 || offset >= size || length > size - offset || length > kViewLengthMax)
			ThrowIfFailed(env, length == 0 ? DBOS_EINVAL : DBOS_ERANGE, "view");
		uint64_t first = offset / DBOS_PAGE_SIZE;
		uint64_t count = (offset + length - 1) / DBOS_PAGE_SIZE - first + 1;
		ThrowIfFailed(env, dbos_pt_pin(region, first, count), "view (pages must be mapped read-write)");
		ViewRecord *record = new ViewRecord{ holder_, first, count, true, false, {}, {} };
		holder_->references++;
		Napi::ArrayBuffer buffer;
		try {
			buffer = Napi::ArrayBuffer::New(env, dbos_pt_region_base(region) + offset, (size_t)length,
							ViewFinalize, record);
		} catch (...) {
			dbos_pt_unpin(region, first, count);
			delete record;
			HolderUnref(holder_);
			throw;
		}
		record->weak = Napi::Weak(buffer);
		record->region = Napi::Persistent(Value());
		holder_->views.insert(record);
		return buffer;
	}

	// release(arrayBuffer): detach one view now and unpin its pages
	Napi::Value Release(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 1);
		if (!info[0].IsArrayBuffer())
			throw ArgumentError(env, "release() takes a view's ArrayBuffer");
		Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
		Region(env);
		if (buffer.IsDetached())
			return Napi::Boolean::New(env,
						  false); // released, or moved away: its memory may still be in use
		for (ViewRecord *record : holder_->views) {
			Napi::ArrayBuffer held;
			if (!record->weak.IsEmpty())
				held = record->weak.Value();
			if (held.IsEmpty() || !held.StrictEquals(buffer))
				continue;
			holder_->views.erase(record);
			dbos_pt_unpin(holder_->region, record->first, record->count);
			record->pinned = false;
			buffer.Detach(); // the record itself goes when the buffer is finalized
			return Napi::Boolean::New(env, true);
		}
		return Napi::Boolean::New(env, false); // not a live view of this region
	}

	// pinned(first, count) -> whether a live view pins a page of the range
	Napi::Value Pinned(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 2);
		dbos_pt_region *region = Region(info.Env());
		return Napi::Boolean::New(info.Env(), dbos_pt_range_pinned(region, ToUint64(info[0], "first"),
									   ToUint64(info[1], "count")));
	}

	// liveViews() -> views not yet released or collected
	Napi::Value LiveViews(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), holder_ == nullptr ? 0 : (double)holder_->views.size());
	}

	// pageQuery(page) -> { state, prot, frame }
	Napi::Value PageQuery(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 1);
		dbos_pt_page_info page_info;
		ThrowIfFailed(env, dbos_pt_page_query(Region(env), ToUint64(info[0], "page"), &page_info),
			      "page query");
		Napi::Object result = Napi::Object::New(env);
		result.Set("state", (double)page_info.state);
		result.Set("prot", (double)page_info.prot);
		result.Set("frame", (double)page_info.frame);
		return result;
	}

	// dirtyStart(mechanism)
	Napi::Value DirtyStart(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 1);
		dbos_pt_region *region = Region(info.Env());
		uint64_t mechanism = ToUint64Max(info[0], "mechanism", DBOS_PT_DIRTY_PTE_BITS);
		return Done(info, dbos_pt_dirty_start(region, (enum dbos_pt_dirty_mechanism)mechanism),
			    "dirty tracking start");
	}

	Napi::Value DirtyStop(const Napi::CallbackInfo &info)
	{
		return Done(info, dbos_pt_dirty_stop(Region(info.Env())), "dirty tracking stop");
	}

	Napi::Value DirtyMechanism(const Napi::CallbackInfo &info)
	{
		return Napi::String::New(info.Env(),
					 dbos_pt_dirty_mechanism_name(dbos_pt_dirty_mechanism_of(Region(info.Env()))));
	}

	// The most pages one collect call reports: a Uint32Array of 64 MiB.
	static constexpr uint64_t kCollectCapacityMax = (uint64_t)1 << 24;

	// Shared by dirtyCollect / presentCollect: [Uint32Array of found pages, next page]
	Napi::Value Report(Napi::Env env, Napi::ArrayBuffer storage, uint64_t found, uint64_t next)
	{
		Napi::Array result = Napi::Array::New(env, 2);
		result.Set(0u, Napi::Uint32Array::New(env, (size_t)found, storage, 0));
		result.Set(1u, Napi::Number::New(env, (double)next));
		return result;
	}

	// dirtyCollect(first, count, reset, capacity) -> [pages, next]
	Napi::Value DirtyCollect(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 4);
		dbos_pt_region *region = Region(env);
		uint64_t capacity = ToUint64Max(info[3], "capacity", kCollectCapacityMax);
		Napi::ArrayBuffer storage = Napi::ArrayBuffer::New(env, (size_t)capacity * sizeof(uint32_t));
		uint64_t found = 0, next = 0;
		ThrowIfFailed(env,
			      dbos_pt_dirty_collect(region, ToUint64(info[0], "first"), ToUint64(info[1], "count"),
						    info[2].ToBoolean() ? DBOS_PT_COLLECT_RESET : 0,
						    (uint32_t *)storage.Data(), capacity, &found, &next),
			      "dirty collect");
		return Report(env, storage, found, next);
	}

	// dirtyReset(first, count)
	Napi::Value DirtyReset(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 2);
		dbos_pt_region *region = Region(info.Env());
		return Done(info, dbos_pt_dirty_reset(region, ToUint64(info[0], "first"), ToUint64(info[1], "count")),
			    "dirty reset");
	}

	// presentCollect(first, count, capacity) -> [pages, next]
	Napi::Value PresentCollect(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 3);
		dbos_pt_region *region = Region(env);
		uint64_t capacity = ToUint64Max(info[2], "capacity", kCollectCapacityMax);
		Napi::ArrayBuffer storage = Napi::ArrayBuffer::New(env, (size_t)capacity * sizeof(uint32_t));
		uint64_t found = 0, next = 0;
		ThrowIfFailed(env,
			      dbos_pt_present_collect(region, ToUint64(info[0], "first"), ToUint64(info[1], "count"),
						      (uint32_t *)storage.Data(), capacity, &found, &next),
			      "present collect");
		return Report(env, storage, found, next);
	}

	// faultsFill(byte, stampIndex): serve first touches with dbos_pt_fault_fill
	Napi::Value FaultsFill(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 2);
		dbos_pt_region *region = Region(env);
		uint64_t byte = ToUint64Max(info[0], "byte", 255);
		dbos_pt_fill *fill = new dbos_pt_fill{ (uint8_t)byte, info[1].ToBoolean() };
		dbos_status status = dbos_pt_fault_enable(region, dbos_pt_fault_fill, fill);
		if (status != DBOS_OK) {
			delete fill;
			ThrowIfFailed(env, status, "fault fill");
		}
		holder_->fill = fill;
		return env.Undefined();
	}

	Napi::Value FaultsDisable(const Napi::CallbackInfo &info)
	{
		dbos_status status = dbos_pt_fault_disable(Region(info.Env()));
		if (status == DBOS_OK) {
			delete holder_->fill;
			holder_->fill = nullptr;
		}
		return Done(info, status, "faults disable");
	}

	Napi::Value Stats(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_pt_stats stats;
		dbos_pt_region_stats(Region(env), &stats);
		Napi::Object result = Napi::Object::New(env);
		result.Set("runtimeCalls", (double)stats.runtime_calls);
		result.Set("pagesMapped", (double)stats.pages_mapped);
		result.Set("faultsServed", (double)stats.faults_served);
		result.Set("faultsFailed", (double)stats.faults_failed);
		return result;
	}

	// close(): detach every view, stop faults and tracking, unmap. Idempotent.
	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		if (holder_ != nullptr)
			CloseRegion(info.Env());
		return info.Env().Undefined();
	}
};

void InitRegion(Napi::Env env, Napi::Object exports)
{
	exports.Set("NativeRegion", NativeRegion::Define(env));
	exports.Set("viewLengthMax", Napi::Number::New(env, (double)kViewLengthMax));
}

} // namespace dbos
