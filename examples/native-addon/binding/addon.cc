// addon.cc - the interner addon: an ObjectWrap over one pool and one interner. Arguments are
// checked in index.js; this layer converts, makes one C call and converts the status (through
// @dbos/platform's dbos/binding.h, so errors carry the same DBOS_E… codes as every dbos package).
#include <napi.h>

#include "dbos/binding.h"

extern "C" {
#include "interner.h"
}

class NativeInterner : public Napi::ObjectWrap<NativeInterner> {
      public:
	static Napi::Object Init(Napi::Env env, Napi::Object exports)
	{
		Napi::Function constructor = DefineClass(env, "NativeInterner",
							 { InstanceMethod<&NativeInterner::Intern>("intern"),
							   InstanceMethod<&NativeInterner::Find>("find"),
							   InstanceMethod<&NativeInterner::Get>("get"),
							   InstanceMethod<&NativeInterner::Count>("count"),
							   InstanceMethod<&NativeInterner::PoolStats>("poolStats"),
							   InstanceMethod<&NativeInterner::Close>("close") });
		exports.Set("NativeInterner", constructor);
		exports.Set("lengthMax", Napi::Number::New(env, INTERNER_LENGTH_MAX));
		return exports;
	}

	// new NativeInterner(limitBytes)
	NativeInterner(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeInterner>(info)
	{
		dbos::RequireArguments(info, 1);
		struct dbos_alloc_config config = {};
		config.limit_bytes = dbos::ToUint64(info[0], "limitBytes");
		dbos::ThrowIfFailed(info.Env(), dbos_alloc_pool_create(&config, &pool_), "creating the pool");
		dbos_status status = interner_create(pool_, &interner_);
		if (status != DBOS_OK) {
			dbos_alloc_pool_destroy(pool_);
			pool_ = nullptr;
			dbos::ThrowIfFailed(info.Env(), status, "creating the interner");
		}
	}

	~NativeInterner() override
	{
		Release();
	}

      private:
	dbos_alloc_pool *pool_ = nullptr;
	interner *interner_ = nullptr;

	void Release()
	{
		interner_destroy(interner_);
		interner_ = nullptr;
		dbos_alloc_pool_destroy(pool_);
		pool_ = nullptr;
	}

	interner *Open(Napi::Env env)
	{
		if (!interner_)
			throw dbos::StatusError(env, DBOS_ECLOSED, "the interner is closed");
		return interner_;
	}

	static Napi::Uint8Array Bytes(const Napi::CallbackInfo &info)
	{
		dbos::RequireArguments(info, 1);
		if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
			throw dbos::ArgumentError(info.Env(), "expected a Uint8Array");
		return info[0].As<Napi::Uint8Array>();
	}

	// intern(bytes) -> [id, added]
	Napi::Value Intern(const Napi::CallbackInfo &info)
	{
		interner *in = Open(info.Env());
		Napi::Uint8Array bytes = Bytes(info);
		uint32_t id = 0;
		bool added = false;
		dbos::ThrowIfFailed(info.Env(),
				    interner_intern(in, bytes.Data(), (uint32_t)bytes.ByteLength(), &id, &added),
				    "interning");
		Napi::Array result = Napi::Array::New(info.Env(), 2);
		result.Set(0u, Napi::Number::New(info.Env(), id));
		result.Set(1u, Napi::Boolean::New(info.Env(), added));
		return result;
	}

	// find(bytes) -> id | -1
	Napi::Value Find(const Napi::CallbackInfo &info)
	{
		interner *in = Open(info.Env());
		Napi::Uint8Array bytes = Bytes(info);
		uint32_t id = 0;
		dbos_status status = interner_find(in, bytes.Data(), (uint32_t)bytes.ByteLength(), &id);
		if (status == DBOS_ENOENT)
			return Napi::Number::New(info.Env(), -1);
		dbos::ThrowIfFailed(info.Env(), status, "finding");
		return Napi::Number::New(info.Env(), id);
	}

	// get(id) -> Buffer (a copy) | undefined
	Napi::Value Get(const Napi::CallbackInfo &info)
	{
		interner *in = Open(info.Env());
		dbos::RequireArguments(info, 1);
		uint64_t id = dbos::ToUint64(info[0], "id");
		const void *bytes = nullptr;
		uint32_t length = 0;
		if (id > UINT32_MAX || interner_bytes(in, (uint32_t)id, &bytes, &length) == DBOS_ERANGE)
			return info.Env().Undefined();
		return Napi::Buffer<uint8_t>::Copy(info.Env(), static_cast<const uint8_t *>(bytes), length);
	}

	Napi::Value Count(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), interner_count(Open(info.Env())));
	}

	// poolStats() -> { limitBytes, bytesInUse, residentBytes }
	Napi::Value PoolStats(const Napi::CallbackInfo &info)
	{
		Open(info.Env());
		struct dbos_alloc_stats stats;
		dbos::ThrowIfFailed(info.Env(), dbos_alloc_stats_get(pool_, &stats), "reading the pool's counters");
		Napi::Object result = Napi::Object::New(info.Env());
		result.Set("limitBytes", Napi::Number::New(info.Env(), (double)stats.limit_bytes));
		result.Set("bytesInUse", Napi::Number::New(info.Env(), (double)stats.bytes_in_use));
		result.Set("residentBytes", Napi::Number::New(info.Env(), (double)stats.resident_bytes));
		return result;
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Release();
		return info.Env().Undefined();
	}
};

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	return NativeInterner::Init(env, exports);
}

NODE_API_MODULE(interner, Init)
