// kv_constants.cc - the constants of dbos/kv.h that the TypeScript layer checks against.
#include "kv_binding.h"

namespace dbos {

static void SetNumber(Napi::Object exports, const char *name, double value)
{
	exports.Set(name, Napi::Number::New(exports.Env(), value));
}

void InitConstants(Napi::Env env, Napi::Object exports)
{
	(void)env;
	SetNumber(exports, "keyMax", DBOS_KV_KEY_MAX);
	SetNumber(exports, "valueMax", DBOS_KV_VALUE_MAX);
	SetNumber(exports, "batchMax", DBOS_KV_BATCH_MAX);
	SetNumber(exports, "cacheBytesDefault", (double)DBOS_KV_CACHE_BYTES_DEFAULT);
	SetNumber(exports, "checkpointWalBytesDefault", (double)DBOS_KV_CHECKPOINT_WAL_BYTES_DEFAULT);
	SetNumber(exports, "flagCreate", DBOS_KV_CREATE);
	SetNumber(exports, "flagReadOnly", DBOS_KV_READ_ONLY);
	SetNumber(exports, "flagBuffered", DBOS_KV_BUFFERED);
	SetNumber(exports, "flagSync", DBOS_KV_SYNC);
	SetNumber(exports, "opPut", DBOS_KV_PUT);
	SetNumber(exports, "opDel", DBOS_KV_DEL);
}

} // namespace dbos
