// workload.cc - the test workload (snap_workload.h) as a JavaScript class, in a test-only addon.
//
// This addon has no copy of the snapshot core and no platform layer: it reaches the space only
// through the handle JavaScript passes in (dbos/snapshot_handle.h), as any engine in another
// addon would.  So it cannot name a status either: failures throw an Error whose `status` is the
// dbos_status number, and test/support/writers.ts turns it into the error @dbos/platform would.
#include <napi.h>

#include <string>
#include <vector>

#include "dbos/binding.h"

extern "C" {
#include "dbos/snapshot_handle.h"
#include "snap_workload.h"
}

namespace {

const napi_type_tag kHandleTag = { DBOS_SNAP_HANDLE_TAG_LOWER, DBOS_SNAP_HANDLE_TAG_UPPER };

Napi::Error StatusFailure(Napi::Env env, dbos_status status, const std::string &context)
{
	Napi::Error error = Napi::Error::New(env, context + " failed");
	error.Set("status", Napi::Number::New(env, status));
	return error;
}

void Check(Napi::Env env, dbos_status status, const char *context)
{
	if (status != DBOS_OK)
		throw StatusFailure(env, status, context);
}

class Workload : public Napi::ObjectWrap<Workload> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "Workload",
				   {
					   InstanceMethod<&Workload::Fill>("fill"),
					   InstanceMethod<&Workload::Start>("start"),
					   InstanceMethod<&Workload::Stop>("stop"),
					   InstanceMethod<&Workload::Stats>("stats"),
					   InstanceMethod<&Workload::CheckImage>("check"),
					   InstanceMethod<&Workload::FirstWrites>("firstWrites"),
					   InstanceMethod<&Workload::ForkPwrite>("forkPwrite"),
					   InstanceMethod<&Workload::Entry>("entry"),
					   InstanceMethod<&Workload::Attached>("attached"),
					   InstanceMethod<&Workload::Close>("close"),
				   });
	}

	// new Workload(handle): attach to the space behind a snapshot handle External.
	Workload(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Workload>(info)
	{
		Napi::Env env = info.Env();
		dbos::RequireArguments(info, 1);
		bool tagged = false;
		if (info[0].IsExternal())
			tagged = info[0].As<Napi::External<dbos_snap_handle>>().CheckTypeTag(&kHandleTag);
		if (!tagged)
			throw dbos::ArgumentError(env, "handle must come from SnapshotSpace.nativeHandle()");
		dbos_snap_handle *handle = info[0].As<Napi::External<dbos_snap_handle>>().Data();
		Check(env, snap_workload_create(handle, &workload_), "attaching the workload");
	}

	~Workload()
	{
		snap_workload_destroy(workload_);
	}

      private:
	snap_workload *Live(Napi::Env env)
	{
		if (!workload_ || !snap_workload_attached(workload_))
			throw StatusFailure(env, DBOS_ECLOSED, "the workload's space");
		return workload_;
	}

	Napi::Value Fill(const Napi::CallbackInfo &info)
	{
		snap_workload *workload = Live(info.Env());
		if (snap_workload_running(workload))
			throw StatusFailure(info.Env(), DBOS_EBUSY, "fill while writers run");
		snap_workload_fill(workload);
		return info.Env().Undefined();
	}

	// start(writers, barrier, wholePage, trackEpochs, hotPages, realtime)
	Napi::Value Start(const Napi::CallbackInfo &info)
	{
		dbos::RequireArguments(info, 6);
		snap_workload_options options = {};
		uint64_t writers = dbos::ToUint64(info[0], "writers");
		if (writers > SNAP_WORKLOAD_WRITERS_MAX)
			throw StatusFailure(info.Env(), DBOS_EINVAL, "writers above SNAP_WORKLOAD_WRITERS_MAX");
		options.writer_count = static_cast<uint32_t>(writers);
		options.barrier = info[1].ToBoolean();
		options.whole_page = info[2].ToBoolean();
		options.track_epochs = info[3].ToBoolean();
		options.hot_page_count = dbos::ToUint64(info[4], "hotPages");
		options.realtime = info[5].ToBoolean();
		Check(info.Env(), snap_workload_start(Live(info.Env()), &options), "starting writers");
		return info.Env().Undefined();
	}

	Napi::Value Stop(const Napi::CallbackInfo &info)
	{
		snap_workload_stop(Live(info.Env()));
		return info.Env().Undefined();
	}

	// stats(resetGap) -> { writes, gapNsMax, quiesces, realtimeWriters }
	Napi::Value Stats(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		snap_workload_stats stats = {};
		snap_workload_stats_get(Live(env), info.Length() > 0 && info[0].ToBoolean(), &stats);
		Napi::Object result = Napi::Object::New(env);
		result.Set("writes", static_cast<double>(stats.writes));
		result.Set("gapNsMax", static_cast<double>(stats.gap_ns_max));
		result.Set("quiesces", static_cast<double>(stats.quiesces));
		result.Set("realtimeWriters", static_cast<double>(stats.realtime_writers));
		return result;
	}

	// check(image, epoch, quiesce) -> { mismatches, firstBad }: a snapshot's bytes against the
	// versions it must show
	Napi::Value CheckImage(const Napi::CallbackInfo &info)
	{
		dbos::RequireArguments(info, 3);
		Napi::Env env = info.Env();
		snap_workload *workload = Live(env);
		uint64_t pages = snap_workload_page_count(workload);
		napi_typedarray_type type = napi_int8_array;
		size_t length = 0;
		void *data = nullptr;
		if (!info[0].IsTypedArray() ||
		    napi_get_typedarray_info(env, info[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
		    type != napi_uint8_array || length < pages * DBOS_PAGE_SIZE)
			throw dbos::ArgumentError(env, "image must be a Uint8Array of the whole space");
		const uint8_t *image = static_cast<const uint8_t *>(data);
		std::vector<uint32_t> expected(pages);
		Check(env,
		      snap_workload_expected(workload, dbos::ToUint64(info[1], "epoch"),
					     dbos::ToUint64(info[2], "quiesce"), expected.data()),
		      "expected versions");
		uint64_t first_bad = 0;
		uint64_t bad = snap_workload_mismatches(workload, image, expected.data(), &first_bad);
		Napi::Object result = Napi::Object::New(env);
		result.Set("mismatches", static_cast<double>(bad));
		result.Set("firstBad", first_bad == UINT64_MAX ? -1.0 : static_cast<double>(first_bad));
		return result;
	}

	// firstWrites(barrier, first, count, stride) -> ns per write
	Napi::Value FirstWrites(const Napi::CallbackInfo &info)
	{
		dbos::RequireArguments(info, 4);
		Napi::Env env = info.Env();
		uint64_t ns = 0;
		Check(env,
		      snap_workload_first_writes(Live(env), info[0].ToBoolean(), dbos::ToUint64(info[1], "first"),
						 dbos::ToUint64(info[2], "count"), dbos::ToUint64(info[3], "stride"),
						 &ns),
		      "first writes");
		return Napi::Number::New(env, static_cast<double>(ns));
	}

	// forkPwrite(fd) -> ns from fork() to the child's exit after writing the space raw to fd
	Napi::Value ForkPwrite(const Napi::CallbackInfo &info)
	{
		dbos::RequireArguments(info, 1);
		Napi::Env env = info.Env();
		uint64_t ns = 0;
		Check(env, snap_workload_fork_pwrite(Live(env), static_cast<int>(dbos::ToUint64(info[0], "fd")), &ns),
		      "fork pwrite");
		return Napi::Number::New(env, static_cast<double>(ns));
	}

	// entry(name, a, b) -> undefined: one handle entry point with the caller's values as given
	// ('page_prepare' page, 'write_begin' page, 'write_copy' offset length), for hostile tests.
	Napi::Value Entry(const Napi::CallbackInfo &info)
	{
		dbos::RequireArguments(info, 3);
		Napi::Env env = info.Env();
		if (!info[0].IsString())
			throw dbos::ArgumentError(env, "entry must be a string");
		std::string name = info[0].As<Napi::String>();
		enum snap_workload_entry entry;
		if (name == "page_prepare")
			entry = SNAP_WORKLOAD_PAGE_PREPARE;
		else if (name == "write_begin")
			entry = SNAP_WORKLOAD_WRITE_BEGIN;
		else if (name == "write_copy")
			entry = SNAP_WORKLOAD_WRITE_COPY;
		else
			throw dbos::ArgumentError(env, "entry must be page_prepare, write_begin or write_copy");
		Check(env,
		      snap_workload_entry(Live(env), entry, dbos::ToUint64(info[1], "a"), dbos::ToUint64(info[2], "b")),
		      name.c_str());
		return env.Undefined();
	}

	Napi::Value Attached(const Napi::CallbackInfo &info)
	{
		return Napi::Boolean::New(info.Env(), workload_ && snap_workload_attached(workload_));
	}

	// close(): stop the writers and leave the space.  Idempotent.
	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		snap_workload_destroy(workload_);
		workload_ = nullptr;
		return info.Env().Undefined();
	}

	snap_workload *workload_ = nullptr;
};

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("Workload", Workload::Define(env));
	exports.Set("WRITERS_MAX", Napi::Number::New(env, SNAP_WORKLOAD_WRITERS_MAX));
	return exports;
}

} // namespace

NODE_API_MODULE(dbos_snapshot_workload, Init)
