// guest.cc - Node-API glue for the in-process VMM (dbos/guest.h). No logic:
// convert arguments, make one C call, convert the status (and a guest
// failure report) to an Error.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>

#include "dbos/binding.h"

extern "C" {
#include "dbos/guest.h"
}

namespace dbos {
namespace {

const char *FailureKindName(dbos_guest_failure_kind kind)
{
	switch (kind) {
	case DBOS_GUEST_FAILURE_PANIC: return "panic";
	case DBOS_GUEST_FAILURE_EXIT: return "exit";
	case DBOS_GUEST_FAILURE_INTERNAL_ERROR: return "internal-error";
	case DBOS_GUEST_FAILURE_SHUTDOWN: return "shutdown";
	case DBOS_GUEST_FAILURE_FAIL_ENTRY: return "fail-entry";
	case DBOS_GUEST_FAILURE_PROTOCOL: return "protocol";
	case DBOS_GUEST_FAILURE_HOST: return "host";
	default: return "none";
	}
}

Napi::Object FailureObject(Napi::Env env, const dbos_guest_failure &failure)
{
	Napi::Object out = Napi::Object::New(env);
	out.Set("kind", FailureKindName(failure.kind));
	out.Set("vcpu", failure.vcpu);
	out.Set("message", failure.message);
	out.Set("exitCode", Napi::BigInt::New(env, failure.exit_code));
	out.Set("exitReason", failure.exit_reason);
	out.Set("suberror", failure.suberror);
	if (failure.registers_valid) {
		const dbos_guest_regs &r = failure.registers;
		Napi::Object regs = Napi::Object::New(env);
		const struct {
			const char *name;
			uint64_t value;
		} fields[] = {
			{ "rip", r.rip },       { "rsp", r.rsp },
			{ "rflags", r.rflags }, { "cs", r.cs },
			{ "ss", r.ss },         { "rax", r.rax },
			{ "rbx", r.rbx },       { "rcx", r.rcx },
			{ "rdx", r.rdx },       { "rsi", r.rsi },
			{ "rdi", r.rdi },       { "rbp", r.rbp },
			{ "r8", r.r8 },         { "r9", r.r9 },
			{ "r10", r.r10 },       { "r11", r.r11 },
			{ "r12", r.r12 },       { "r13", r.r13 },
			{ "r14", r.r14 },       { "r15", r.r15 },
			{ "vector", r.vector }, { "errorCode", r.error_code },
			{ "cr2", failure.cr2 }, { "cr3", failure.cr3 },
		};
		for (const auto &field : fields)
			regs.Set(field.name, Napi::BigInt::New(env, field.value));
		out.Set("registers", regs);
	} else {
		out.Set("registers", env.Null());
	}
	return out;
}

Napi::Error CallError(Napi::Env env, dbos_status status, const dbos_guest_failure &failure)
{
	std::string context = status == DBOS_EGUEST ? std::string(failure.message) : "guest call";
	Napi::Error error = StatusError(env, status, context);
	if (status == DBOS_EGUEST)
		error.Set("failure", FailureObject(env, failure));
	return error;
}

// The C handle outlives the JS object while calls are queued: freed by the last owner.
struct GuestRef {
	dbos_guest *guest = nullptr;
	~GuestRef()
	{
		dbos_guest_destroy(guest);
	}
};

class CallWorker : public Napi::AsyncWorker {
      public:
	CallWorker(Napi::Env env, std::shared_ptr<GuestRef> ref, uint32_t vcpu, uint64_t function,
		   const uint64_t args[DBOS_GUEST_ENTRY_ARGS])
	    : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), ref_(std::move(ref)), vcpu_(vcpu),
	      function_(function)
	{
		std::memcpy(args_, args, sizeof(args_));
		std::memset(&failure_, 0, sizeof(failure_));
	}
	Napi::Promise Promise()
	{
		return deferred_.Promise();
	}
	void Execute() override
	{
		status_ = dbos_guest_call(ref_->guest, vcpu_, function_, args_, &result_, &failure_);
	}
	void OnOK() override
	{
		if (status_ == DBOS_OK)
			deferred_.Resolve(Napi::BigInt::New(Env(), result_));
		else
			deferred_.Reject(CallError(Env(), status_, failure_).Value());
	}

      private:
	Napi::Promise::Deferred deferred_;
	std::shared_ptr<GuestRef> ref_;
	uint32_t vcpu_;
	uint64_t function_;
	uint64_t args_[DBOS_GUEST_ENTRY_ARGS];
	int64_t result_ = 0;
	dbos_status status_ = DBOS_OK;
	dbos_guest_failure failure_;
};

class Guest : public Napi::ObjectWrap<Guest> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "NativeGuest",
				   {
					   InstanceMethod<&Guest::Info>("info"),
					   InstanceMethod<&Guest::Entries>("entries"),
					   InstanceMethod<&Guest::EntryFind>("entryFind"),
					   InstanceMethod<&Guest::Call>("call"),
					   InstanceMethod<&Guest::CallSync>("callSync"),
					   InstanceMethod<&Guest::FdGrant>("fdGrant"),
					   InstanceMethod<&Guest::FdRevoke>("fdRevoke"),
					   InstanceMethod<&Guest::MemoryRead>("memoryRead"),
					   InstanceMethod<&Guest::MemoryWrite>("memoryWrite"),
					   InstanceMethod<&Guest::LogTake>("logTake"),
					   InstanceMethod<&Guest::Stop>("stop"),
				   });
	}

	// new NativeGuest(memoryBytes, vcpuCount, engineRing /* -1 auto */, image: Uint8Array)
	explicit Guest(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Guest>(info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 4);
		if (!info[2].IsNumber())
			throw ArgumentError(env, "engineRing must be a number");
		if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
			throw ArgumentError(env, "image must be a Uint8Array");
		Napi::Uint8Array image = info[3].As<Napi::Uint8Array>();
		dbos_guest_config config{};
		config.memory_size = ToUint64(info[0], "memory");
		config.vcpu_count = static_cast<uint32_t>(ToUint64(info[1], "vcpus"));
		config.engine_ring = info[2].As<Napi::Number>().Int32Value();
		config.image = image.Data(); // copied by dbos_guest_start
		config.image_size = image.ByteLength();
		char reason[256] = "";
		dbos_guest *guest = nullptr;
		dbos_status status = dbos_guest_start(&config, &guest, reason, sizeof(reason));
		if (status != DBOS_OK)
			throw StatusError(env, status, std::string("guest start: ") + reason);
		ref_ = std::make_shared<GuestRef>();
		ref_->guest = guest;
	}

      private:
	dbos_guest *Handle(Napi::Env env)
	{
		if (!ref_)
			throw StatusError(env, DBOS_ECLOSED, "guest stopped");
		return ref_->guest;
	}

	Napi::Value Info(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_guest_info gi;
		dbos_guest_info_get(Handle(env), &gi);
		Napi::Object out = Napi::Object::New(env);
		out.Set("kvm", gi.kvm == DBOS_GUEST_KVM_PVM ? "pvm" : "hardware");
		out.Set("engineRing", gi.engine_ring);
		out.Set("vcpus", gi.vcpu_count);
		out.Set("memory", static_cast<double>(gi.memory_size));
		out.Set("imageSize", static_cast<double>(gi.image_size));
		out.Set("bootNs", static_cast<double>(gi.boot_ns));
		out.Set("tscKhz", static_cast<double>(gi.tsc_khz));
		out.Set("scratchAddress", static_cast<double>(gi.scratch_gpa));
		out.Set("scratchSize", static_cast<double>(gi.scratch_size));
		return out;
	}

	Napi::Value Entries(const Napi::CallbackInfo &info)
	{
		dbos_guest *guest = Handle(info.Env());
		Napi::Array out = Napi::Array::New(info.Env());
		for (uint32_t i = 0; const char *name = dbos_guest_entry_name(guest, i); i++)
			out.Set(i, name);
		return out;
	}

	Napi::Value EntryFind(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 1);
		std::string name = info[0].As<Napi::String>().Utf8Value();
		uint64_t function = 0;
		ThrowIfFailed(info.Env(), dbos_guest_entry_find(Handle(info.Env()), name.c_str(), &function),
			      ("guest entry '" + name + "'").c_str());
		return Napi::Number::New(info.Env(), static_cast<double>(function));
	}

	// (vcpu, function, args: BigInt64Array(4))
	void CallArguments(const Napi::CallbackInfo &info, uint32_t *vcpu, uint64_t *function, uint64_t *args)
	{
		RequireArguments(info, 3);
		*vcpu = static_cast<uint32_t>(ToUint64(info[0], "vcpu"));
		*function = ToUint64(info[1], "function");
		if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array ||
		    info[2].As<Napi::TypedArray>().ElementLength() != DBOS_GUEST_ENTRY_ARGS)
			throw ArgumentError(info.Env(), "args must be a BigInt64Array of 4");
		std::memcpy(args, info[2].As<Napi::BigInt64Array>().Data(), DBOS_GUEST_ENTRY_ARGS * sizeof(uint64_t));
	}

	Napi::Value Call(const Napi::CallbackInfo &info)
	{
		uint32_t vcpu;
		uint64_t function, args[DBOS_GUEST_ENTRY_ARGS];
		Handle(info.Env());
		CallArguments(info, &vcpu, &function, args);
		auto *worker = new CallWorker(info.Env(), ref_, vcpu, function, args);
		Napi::Promise promise = worker->Promise();
		worker->Queue();
		return promise;
	}

	Napi::Value CallSync(const Napi::CallbackInfo &info)
	{
		uint32_t vcpu;
		uint64_t function, args[DBOS_GUEST_ENTRY_ARGS];
		dbos_guest *guest = Handle(info.Env());
		CallArguments(info, &vcpu, &function, args);
		int64_t result = 0;
		dbos_guest_failure failure;
		std::memset(&failure, 0, sizeof(failure));
		dbos_status status = dbos_guest_call(guest, vcpu, function, args, &result, &failure);
		if (status != DBOS_OK)
			throw CallError(info.Env(), status, failure);
		return Napi::BigInt::New(info.Env(), result);
	}

	Napi::Value FdGrant(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 1);
		int32_t guest_fd = -1;
		ThrowIfFailed(
			info.Env(),
			dbos_guest_fd_grant(Handle(info.Env()), static_cast<int>(ToUint64(info[0], "fd")), &guest_fd),
			"grant fd");
		return Napi::Number::New(info.Env(), guest_fd);
	}

	void FdRevoke(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 1);
		ThrowIfFailed(
			info.Env(),
			dbos_guest_fd_revoke(Handle(info.Env()), static_cast<int32_t>(ToUint64(info[0], "guestFd"))),
			"revoke fd");
	}

	Napi::Value MemoryRead(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 2);
		uint64_t address = ToUint64(info[0], "address"), length = ToUint64(info[1], "length");
		dbos_guest *guest = Handle(info.Env());
		dbos_guest_info gi;
		dbos_guest_info_get(guest, &gi);
		if (length > gi.memory_size)
			throw StatusError(info.Env(), DBOS_ERANGE, "guest memory read");
		Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), length);
		ThrowIfFailed(info.Env(), dbos_guest_memory_read(guest, address, out.Data(), length),
			      "guest memory read");
		return out;
	}

	void MemoryWrite(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 2);
		uint64_t address = ToUint64(info[0], "address");
		if (!info[1].IsTypedArray())
			throw ArgumentError(info.Env(), "data must be a Uint8Array");
		Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
		ThrowIfFailed(info.Env(),
			      dbos_guest_memory_write(Handle(info.Env()), address, data.Data(), data.ByteLength()),
			      "guest memory write");
	}

	Napi::Value LogTake(const Napi::CallbackInfo &info)
	{
		std::string text(64 << 10, '\0');
		size_t length = dbos_guest_log_take(Handle(info.Env()), &text[0], text.size());
		text.resize(length);
		return Napi::String::New(info.Env(), text);
	}

	void Stop(const Napi::CallbackInfo &info)
	{
		if (ref_)
			dbos_guest_stop(ref_->guest); // frees when the last queued call lets go
		ref_.reset();
	}

	std::shared_ptr<GuestRef> ref_;
};

Napi::Value GuestProbe(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	dbos_guest_kvm kvm = DBOS_GUEST_KVM_NONE;
	char reason[256] = "";
	dbos_status status = dbos_guest_probe(&kvm, reason, sizeof(reason));
	Napi::Object out = Napi::Object::New(env);
	out.Set("available", status == DBOS_OK);
	out.Set("code", dbos_status_name(status));
	out.Set("reason", reason);
	out.Set("kvm", kvm == DBOS_GUEST_KVM_PVM ? "pvm" : kvm == DBOS_GUEST_KVM_HARDWARE ? "hardware" : "none");
	return out;
}

// () -> one line: what the VMM does here, or "unavailable: <reason>" (src/mechanism.ts).
Napi::Value GuestMechanism(const Napi::CallbackInfo &info)
{
	char text[512] = "";
	dbos_guest_mechanism(text, sizeof(text));
	return Napi::String::New(info.Env(), text);
}

} // namespace

void InitGuest(Napi::Env env, Napi::Object exports)
{
	exports.Set("NativeGuest", Guest::Define(env));
	exports.Set("guestProbe", Napi::Function::New(env, GuestProbe, "guestProbe"));
	exports.Set("guestMechanism", Napi::Function::New(env, GuestMechanism, "guestMechanism"));
}

} // namespace dbos
