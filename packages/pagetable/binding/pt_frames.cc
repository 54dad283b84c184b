// pt_frames.cc - NativeFrames: a frame pool (struct dbos_pt_frames) behind a JS handle.
#include "pt_binding.h"

namespace dbos {

class NativeFrames : public Napi::ObjectWrap<NativeFrames> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "NativeFrames",
				   {
					   InstanceMethod<&NativeFrames::Release>("release"),
					   InstanceMethod<&NativeFrames::Close>("close"),
				   });
	}

	// new NativeFrames(frameCount)
	NativeFrames(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeFrames>(info)
	{
		RequireArguments(info, 1);
		ThrowIfFailed(info.Env(), dbos_pt_frames_create(ToUint64(info[0], "frameCount"), &frames_),
			      "frame pool");
	}

	~NativeFrames()
	{
		dbos_pt_frames_destroy(frames_);
	}

	dbos_pt_frames *Frames(Napi::Env env)
	{
		if (frames_ == nullptr)
			ThrowIfFailed(env, DBOS_ECLOSED, "frame pool is closed");
		return frames_;
	}

      private:
	dbos_pt_frames *frames_ = nullptr;

	// release(list, first, count)
	Napi::Value Release(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 3);
		ThrowIfFailed(info.Env(), dbos_pt_frames_release(Frames(info.Env()), ToPages(info, 0)),
			      "release frames");
		return info.Env().Undefined();
	}

	// close(): regions that map frames keep the memory alive.
	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		dbos_pt_frames_destroy(frames_);
		frames_ = nullptr;
		return info.Env().Undefined();
	}
};

dbos_pt_frames *FramesOf(Napi::Env env, const Napi::Value &value)
{
	Napi::FunctionReference &constructor = AddonData(env)->frames_constructor;
	if (!value.IsObject() || constructor.IsEmpty() || !value.As<Napi::Object>().InstanceOf(constructor.Value()))
		throw ArgumentError(env, "frames must be a FramePool");
	NativeFrames *frames = NativeFrames::Unwrap(value.As<Napi::Object>());
	if (frames == nullptr) // an object made from the prototype, never constructed
		throw ArgumentError(env, "frames must be a FramePool");
	return frames->Frames(env);
}

void InitFrames(Napi::Env env, Napi::Object exports)
{
	Napi::Function function = NativeFrames::Define(env);
	AddonData(env)->frames_constructor = Napi::Persistent(function);
	exports.Set("NativeFrames", function);
}

} // namespace dbos
