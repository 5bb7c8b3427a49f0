"""Why didn't it fire: every link of the chain checked (checks), what went wrong inside a
function (function_errors), FilterCriteria evaluated as the poller would (filters), and a probe
item sent through the pipeline (probe). `ddblab doctor` and `ddblab status` print them."""
