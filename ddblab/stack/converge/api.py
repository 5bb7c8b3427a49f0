"""The REST API: /users and /users/{email}, every method proxied to users_api, deployed
to the stage; created with a fixed id where the backend allows one, so $API survives a
restart of the emulator."""
from __future__ import annotations

from ddblab.core.aws import find, paged, rest_api_ids
from ddblab.stack.converge.context import Context
from ddblab.stack.model import Api


def rest_api_id(ctx: Context, spec: Api) -> tuple:
    """(id, created?)."""
    ids = rest_api_ids(ctx.apigw, spec.name)
    if ids:
        return ids[0], False
    # LocalStack reads the tag _custom_id_ (services/apigateway), MiniStack ms-custom-id;
    # elsewhere both are plain tags and the backend picks the id.
    created = ctx.apigw.create_rest_api(
        name=spec.name, description="users API (ddb-streams-lab)", endpointConfiguration={"types": ["REGIONAL"]},
        tags={"_custom_id_": spec.custom_id, "ms-custom-id": spec.custom_id})
    return created["id"], True


def ensure_route(ctx: Context, api_id: str, resources: dict, path: str, uri: str) -> list:
    """The resource at path, with ANY proxied to the function; what it had to change."""
    changed = []
    if path not in resources:
        parent_path, _, part = path.rpartition("/")
        resources[path] = ctx.apigw.create_resource(restApiId=api_id, parentId=resources[parent_path or "/"]["id"],
                                                    pathPart=part)
        changed.append(f"resource {path}")
    resource_id = resources[path]["id"]
    integration = find(ctx.apigw.get_integration, "NotFoundException", restApiId=api_id, resourceId=resource_id,
                       httpMethod="ANY")
    if integration is None or integration.get("uri") != uri or integration.get("type") != "AWS_PROXY":
        find(ctx.apigw.put_method, "ConflictException", restApiId=api_id, resourceId=resource_id, httpMethod="ANY",
             authorizationType="NONE")
        ctx.apigw.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod="ANY", type="AWS_PROXY",
                                  integrationHttpMethod="POST", uri=uri)
        changed.append(f"ANY {path}")
    return changed


def converge(ctx: Context, spec: Api) -> None:
    stack, stage = ctx.stack, ctx.stack.settings.stage
    api_id, created = rest_api_id(ctx, spec)
    function_arn = ctx.lam.get_function(FunctionName=spec.function)["Configuration"]["FunctionArn"]
    uri = stack.integration_uri(function_arn)
    resources = {r["path"]: r for r in paged(ctx.apigw, "get_resources", "items", restApiId=api_id)}
    changed = [change for path in spec.paths for change in ensure_route(ctx, api_id, resources, path, uri)]
    permission = find(ctx.lam.add_permission, "ResourceConflictException", FunctionName=spec.function,
                      StatementId=f"apigateway-{api_id}", Action="lambda:InvokeFunction",
                      Principal="apigateway.amazonaws.com", SourceArn=stack.invoke_permission_source(api_id))
    if permission is not None:
        changed.append("invoke permission")
    stages = {s["stageName"] for s in ctx.apigw.get_stages(restApiId=api_id).get("item", [])}
    if changed or stage not in stages:
        ctx.apigw.create_deployment(restApiId=api_id, stageName=stage)
        changed.append(f"deployed to {stage}")
    action = "created" if created else ("updated" if changed else "unchanged")
    ctx.report.add("api", spec.name, action, "; ".join(changed) if action == "updated" else api_id)
    ctx.report.outputs["api_id"] = api_id
    ctx.report.outputs["api_url"] = stack.api_url(api_id)
