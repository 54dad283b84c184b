// guest.cc - Node-API glue for the in-process VMM (dbos/guest.h). No logic:
// convert arguments, make one C call, convert the status (and a guest
// failure report) to an Error.
//
// run() posts the call to the vCPU's own thread (dbos_guest_call_async) and
// its end comes back through a thread-safe function: no libuv pool thread
// waits on a vCPU, so ending the environment (process exit,
// Worker.terminate()) never waits for guest code.  An environment cleanup
// hook stops delivering first, then stops the guest, which interrupts every
// running call; nothing is thrown while the environment tears down.
#include <napi.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "arguments.h"
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

// One async call in flight: what the vCPU's thread hands back to the JavaScript thread. Its
// napi handles are released on the JavaScript thread; deleting it elsewhere frees native memory
// only (a call dropped while the environment tears down).
struct GuestCall {
	class Guest *guest = nullptr;
	napi_deferred deferred = nullptr;
	napi_ref owner = nullptr; // the Guest object: no GC while the call runs
	dbos_status status = DBOS_OK;
	int64_t result = 0;
	dbos_guest_failure failure;
};

// Shared by the wrapper, the thread-safe function's finalizer and vCPU threads ending calls.
struct GuestShared {
	std::mutex lock;             // held while a vCPU thread hands over a call's end
	bool tearing_down = false;   // the environment is going away: ends are dropped
	bool tsfn_finalized = false; // JavaScript thread only
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
		int64_t ring = ToIntegerIn(info[2], "engineRing", -1, 3);
		if (ring != -1 && ring != 0 && ring != 3)
			throw ArgumentError(env, "engineRing must be -1 (auto), 0 or 3");
		if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
			throw ArgumentError(env, "image must be a Uint8Array");
		Napi::Uint8Array image = info[3].As<Napi::Uint8Array>();
		if (image.ArrayBuffer().IsDetached())
			throw ArgumentError(env, "image is detached");
		dbos_guest_config config{};
		config.memory_size = (uint64_t)ToIntegerIn(info[0], "memory", 0, INT64_MAX);
		config.vcpu_count = (uint32_t)ToIntegerIn(info[1], "vcpus", 0, UINT32_MAX);
		config.engine_ring = (int32_t)ring;
		config.image = image.Data(); // copied by dbos_guest_start; no JavaScript runs meanwhile
		config.image_size = image.ByteLength();
		char reason[256] = "";
		dbos_status status = dbos_guest_start(&config, &guest_, reason, sizeof(reason));
		if (status != DBOS_OK)
			throw StatusError(env, status, std::string("guest start: ") + reason);
		shared_ = std::make_shared<GuestShared>();
		napi_value name = Napi::String::New(env, "dbos guest call");
		auto *finalize_state = new std::shared_ptr<GuestShared>(shared_);
		if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, finalize_state, TsfnFinalize,
						    nullptr, Deliver, &tsfn_) != napi_ok) {
			delete finalize_state;
			dbos_guest_destroy(guest_);
			guest_ = nullptr;
			throw StatusError(env, DBOS_ENOMEM, "guest call function");
		}
		napi_unref_threadsafe_function(env, tsfn_); // referenced only while calls run
		// Runs before the thread-safe function's own teardown (hooks run in reverse order).
		napi_add_env_cleanup_hook(env, EnvTeardown, this);
		env_ = env;
	}

	~Guest() override
	{
		// Garbage collection finds no call running (each holds `owner`); environment teardown
		// ran EnvTeardown first, which stopped the guest.
		napi_remove_env_cleanup_hook(env_, EnvTeardown, this);
		StopDeliveries();
		dbos_guest_destroy(guest_);
		guest_ = nullptr;
		if (!shared_->tsfn_finalized)
			napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
	}

      private:
	void StopDeliveries()
	{
		std::lock_guard<std::mutex> guard(shared_->lock);
		shared_->tearing_down = true;
	}

	// The environment is going away (process exit, Worker.terminate()): stop deliveries, then
	// stop the guest, which interrupts running calls (an engine spinning forever included) and
	// waits for their vCPU threads; their ends free native memory and settle nothing.
	static void EnvTeardown(void *arg)
	{
		Guest *self = static_cast<Guest *>(arg);
		self->StopDeliveries();
		dbos_guest_stop(self->guest_);
		self->stopped_ = true;
	}

	static void TsfnFinalize(napi_env, void *data, void *)
	{
		auto *state = static_cast<std::shared_ptr<GuestShared> *>(data);
		(*state)->tsfn_finalized = true;
		delete state;
	}

	// A vCPU thread: the posted call ended.
	static void OnCallDone(void *context, dbos_status status, int64_t result, const dbos_guest_failure *failure)
	{
		GuestCall *call = static_cast<GuestCall *>(context);
		call->status = status;
		call->result = result;
		if (failure)
			call->failure = *failure;
		Guest *self = call->guest;
		std::lock_guard<std::mutex> guard(self->shared_->lock);
		if (self->shared_->tearing_down ||
		    napi_call_threadsafe_function(self->tsfn_, call, napi_tsfn_nonblocking) != napi_ok)
			delete call; // the environment is going away: native memory only
	}

	// The JavaScript thread settles a call's promise (env == nullptr: the function is being torn
	// down with the call still queued). Never throws.
	static void Deliver(napi_env env, napi_value, void *, void *data)
	{
		GuestCall *call = static_cast<GuestCall *>(data);
		if (env == nullptr) {
			delete call;
			return;
		}
		Guest *self = call->guest;
		try {
			Napi::Env napi_env(env);
			if (call->status == DBOS_OK)
				napi_resolve_deferred(env, call->deferred, Napi::BigInt::New(napi_env, call->result));
			else
				napi_reject_deferred(env, call->deferred,
						     CallError(napi_env, call->status, call->failure).Value());
		} catch (...) {
			// An environment that can no longer run JavaScript: the promise goes with it.
		}
		napi_delete_reference(env, call->owner);
		if (--self->calls_running_ == 0)
			napi_unref_threadsafe_function(env, self->tsfn_);
		delete call;
	}

	dbos_guest *Handle(Napi::Env env)
	{
		if (stopped_)
			throw StatusError(env, DBOS_ECLOSED, "guest stopped");
		return guest_;
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
		if (!info[0].IsString())
			throw ArgumentError(info.Env(), "entry must be a string");
		std::string name = info[0].As<Napi::String>().Utf8Value();
		uint64_t function = 0;
		dbos_status status = name.find('\0') != std::string::npos
					     ? DBOS_ENOENT // no entry name holds a NUL
					     : dbos_guest_entry_find(Handle(info.Env()), name.c_str(), &function);
		ThrowIfFailed(info.Env(), status, "guest entry");
		return Napi::Number::New(info.Env(), static_cast<double>(function));
	}

	// (vcpu, function, args: BigInt64Array(4))
	void CallArguments(const Napi::CallbackInfo &info, uint32_t *vcpu, uint64_t *function, uint64_t *args)
	{
		RequireArguments(info, 3);
		*vcpu = (uint32_t)ToIntegerIn(info[0], "vcpu", 0, DBOS_GUEST_VCPU_MAX - 1);
		*function = (uint64_t)ToIntegerIn(info[1], "function", 0, INT64_MAX);
		if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array ||
		    info[2].As<Napi::TypedArray>().ElementLength() != DBOS_GUEST_ENTRY_ARGS)
			throw ArgumentError(info.Env(), "args must be a BigInt64Array of 4");
		std::memcpy(args, info[2].As<Napi::BigInt64Array>().Data(), DBOS_GUEST_ENTRY_ARGS * sizeof(uint64_t));
	}

	// A refused call: the status, with the guest's report when it has failed.
	Napi::Error Refusal(Napi::Env env, dbos_status status)
	{
		dbos_guest_failure failure;
		std::memset(&failure, 0, sizeof(failure));
		if (status == DBOS_EGUEST)
			dbos_guest_failure_get(guest_, &failure);
		return CallError(env, status, failure);
	}

	Napi::Value Call(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		uint32_t vcpu;
		uint64_t function, args[DBOS_GUEST_ENTRY_ARGS];
		dbos_guest *guest = Handle(env);
		CallArguments(info, &vcpu, &function, args);
		auto call = std::make_unique<GuestCall>();
		std::memset(&call->failure, 0, sizeof(call->failure));
		call->guest = this;
		napi_value promise = nullptr;
		if (napi_create_promise(env, &call->deferred, &promise) != napi_ok ||
		    napi_create_reference(env, Value(), 1, &call->owner) != napi_ok)
			throw StatusError(env, DBOS_ENOMEM, "guest call");
		dbos_status status = dbos_guest_call_async(guest, vcpu, function, args, OnCallDone, call.get());
		if (status != DBOS_OK) {
			napi_delete_reference(env, call->owner);
			napi_reject_deferred(env, call->deferred, Refusal(env, status).Value());
			return Napi::Value(env, promise);
		}
		call.release(); // the vCPU's thread ends it
		if (calls_running_++ == 0)
			napi_ref_threadsafe_function(env, tsfn_);
		return Napi::Value(env, promise);
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

	// (hostFd, access: 0 read-only | 1 read-write)
	Napi::Value FdGrant(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 2);
		int32_t host_fd = ToDescriptor(info[0], "fd");
		auto access = (dbos_guest_access)ToIntegerIn(info[1], "access", DBOS_GUEST_ACCESS_READ_ONLY,
							     DBOS_GUEST_ACCESS_READ_WRITE);
		int32_t guest_fd = -1;
		ThrowIfFailed(info.Env(), dbos_guest_fd_grant(Handle(info.Env()), host_fd, access, &guest_fd),
			      "grant fd");
		return Napi::Number::New(info.Env(), guest_fd);
	}

	void FdRevoke(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 1);
		int32_t guest_fd = ToDescriptor(info[0], "guestFd");
		ThrowIfFailed(info.Env(), dbos_guest_fd_revoke(Handle(info.Env()), guest_fd), "revoke fd");
	}

	Napi::Value MemoryRead(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 2);
		uint64_t address = ToUint64(info[0], "address"), length = ToUint64(info[1], "length");
		dbos_guest *guest = Handle(info.Env());
		dbos_guest_info gi;
		dbos_guest_info_get(guest, &gi);
		if (address > gi.memory_size || length > gi.memory_size - address)
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
		if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
			throw ArgumentError(info.Env(), "data must be a Uint8Array");
		Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
		if (data.ArrayBuffer().IsDetached())
			throw ArgumentError(info.Env(), "data is detached");
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

	// Blocks until the vCPU threads have exited; running calls end with DBOS_ECLOSED.
	void Stop(const Napi::CallbackInfo &)
	{
		if (!stopped_)
			dbos_guest_stop(guest_);
		stopped_ = true;
	}

	napi_env env_ = nullptr;
	dbos_guest *guest_ = nullptr;
	bool stopped_ = false;
	uint32_t calls_running_ = 0;
	std::shared_ptr<GuestShared> shared_;
	napi_threadsafe_function tsfn_ = nullptr;
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
