"""LocalStack init hook (ready.d): converges the ddb-streams-lab stack as soon as LocalStack is
ready, so `docker compose up` alone gives the wired pipeline (tables, stream, functions,
mappings, queues, API), as `make up` does.

LocalStack runs a ready.d `.py` script with exec() inside its own process (runtime/init.py,
PythonScriptRunner: no __file__), on its own interpreter, which has boto3, PyYAML and rich:
all that ddblab's converge needs. docker-compose.yml mounts the repository read-only at
/opt/ddb-streams-lab and this folder at /etc/localstack/init/ready.d; LocalStack on the host
(EMULATOR=localstack-host) passes DDBLAB_ROOT instead. Idempotent: a second run changes nothing.
"""
import os
import sys
import time

root = os.environ.get("DDBLAB_ROOT", "/opt/ddb-streams-lab")
if root not in sys.path:
    sys.path.insert(0, root)

from localstack import config  # noqa: E402 - the repository has to be on the path first

from ddblab import stack  # noqa: E402
from ddblab.core.settings import Settings  # noqa: E402

started = time.monotonic()
# The repository is read-only here: run state goes to LocalStack's temporary folder.
settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}",
                             run_dir=os.path.join(config.dirs.tmp, "ddb-streams-lab"))
report = stack.converge(settings)
print(f"ddb-streams-lab: stack converged by the init hook in {time.monotonic() - started:.1f} s "
      f"({report.summary()}); API {report.outputs.get('api_url')}", flush=True)
