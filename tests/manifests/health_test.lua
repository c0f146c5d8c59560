-- Runs manifests/argocd-health/progressiverollout.lua the way Argo CD does (global `obj`,
-- returned table) against sample objects, and checks that the argocd-cm patch carries the
-- same script byte for byte, so the two cannot drift apart.
-- Usage: lua5.4 health_test.lua HEALTH_LUA ARGOCD_CM_PATCH_YAML
local script_path, patch_path = arg[1], arg[2]
assert(script_path and patch_path, "usage: health_test.lua HEALTH_LUA ARGOCD_CM_PATCH_YAML")

local function read_all(path)
  local f = assert(io.open(path, "r"))
  local text = f:read("a")
  f:close()
  return text
end

local function health_of(obj)
  local env = setmetatable({ obj = obj }, { __index = _G })
  local chunk = assert(loadfile(script_path, "t", env))
  return chunk()
end

local cases = {
  { name = "no status yet is progressing",
    obj = { metadata = { generation = 1 } },
    status = "Progressing", message = "Waiting for the rollout controller to report status" },
  { name = "status without phase is progressing",
    obj = { metadata = { generation = 1 }, status = { observedGeneration = 1 } },
    status = "Progressing" },
  { name = "pending is progressing",
    obj = { metadata = { generation = 1 }, status = { observedGeneration = 1, phase = "Pending" } },
    status = "Progressing", message = "Pending" },
  { name = "progressing names stage and progress",
    obj = { metadata = { generation = 2 },
            status = { observedGeneration = 2, phase = "Progressing", currentStage = "canary in EMEA",
                       progress = "3/8" } },
    status = "Progressing", message = "Progressing: stage canary in EMEA, 3/8 clusters done" },
  { name = "completed is healthy",
    obj = { metadata = { generation = 3 },
            status = { observedGeneration = 3, phase = "Completed", progress = "8/8" } },
    status = "Healthy", message = "Completed: 8/8 clusters done" },
  { name = "failed is degraded with the controller's message",
    obj = { metadata = { generation = 1 },
            status = { observedGeneration = 1, phase = "Failed", currentStage = "eu-west-1",
                       message = "cluster eu-west-1a-2 failed: Degraded" } },
    status = "Degraded", message = "Failed: stage eu-west-1, cluster eu-west-1a-2 failed: Degraded" },
  { name = "paused is suspended",
    obj = { metadata = { generation = 4 }, status = { observedGeneration = 4, phase = "Paused" } },
    status = "Suspended" },
  { name = "rolled back is degraded",
    obj = { metadata = { generation = 4 }, status = { observedGeneration = 4, phase = "RolledBack" } },
    status = "Degraded" },
  { name = "aborted is suspended: it waits for a person",
    obj = { metadata = { generation = 4 }, status = { observedGeneration = 4, phase = "Aborted" } },
    status = "Suspended" },
  { name = "completed for an older generation is still progressing",
    obj = { metadata = { generation = 5 }, status = { observedGeneration = 4, phase = "Completed" } },
    status = "Progressing", message = "Waiting for the rollout controller to observe generation 5" },
  { name = "failed for an older generation is still progressing",
    obj = { metadata = { generation = 2 }, status = { observedGeneration = 1, phase = "Failed" } },
    status = "Progressing" },
  { name = "status without observedGeneration is trusted",
    obj = { metadata = { generation = 2 }, status = { phase = "Completed" } },
    status = "Healthy" },
  { name = "unknown phase is unknown",
    obj = { metadata = { generation = 1 }, status = { observedGeneration = 1, phase = "Exploded" } },
    status = "Unknown" },
}

local failures = 0
for _, c in ipairs(cases) do
  local ok, hs = pcall(health_of, c.obj)
  local problem
  if not ok then
    problem = "error: " .. tostring(hs)
  elseif type(hs) ~= "table" then
    problem = "returned " .. type(hs) .. ", not a table"
  elseif hs.status ~= c.status then
    problem = "status " .. tostring(hs.status) .. ", want " .. c.status
  elseif c.message ~= nil and hs.message ~= c.message then
    problem = "message '" .. tostring(hs.message) .. "', want '" .. c.message .. "'"
  end
  if problem then
    failures = failures + 1
    print("FAIL " .. c.name .. ": " .. problem)
  else
    print("ok   " .. c.name)
  end
end

-- The block scalar under the health key, de-indented, must equal the script file.
local key = "resource.customizations.health.deployment.skyscanner.net_ProgressiveRollout: |"
local embedded, inside = {}, false
for line in (read_all(patch_path) .. "\n"):gmatch("([^\n]*)\n") do
  if inside then
    if line == "" then
      table.insert(embedded, "")
    elseif line:sub(1, 4) == "    " then
      table.insert(embedded, line:sub(5))
    else
      break
    end
  elseif line:match("^%s*(.-)%s*$") == key then
    inside = true
  end
end
while #embedded > 0 and embedded[#embedded] == "" do table.remove(embedded) end
local script = read_all(script_path):gsub("\n+$", "")
if not inside then
  failures = failures + 1
  print("FAIL argocd-cm patch has no key " .. key)
elseif table.concat(embedded, "\n") ~= script then
  failures = failures + 1
  print("FAIL argocd-cm patch's Lua differs from " .. script_path)
else
  print("ok   argocd-cm patch embeds the same Lua")
end

if failures > 0 then
  print(failures .. " failure(s)")
  os.exit(1)
end
print("all " .. (#cases + 1) .. " checks passed")
