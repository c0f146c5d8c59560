-- Argo CD health check for deployment.skyscanner.net/ProgressiveRollout.
-- Argo CD runs this with the object as the global `obj` and reads the returned table.
-- Written for gopher-lua (Lua 5.1, what Argo CD embeds) and tested with Lua 5.4.
-- A status the controller has not caught up with yet (older observedGeneration) says nothing
-- about the current spec, so it counts as Progressing, whatever its phase.
local hs = {}

local function describe(status)
  local parts = {}
  if status.currentStage ~= nil and status.currentStage ~= "" then
    table.insert(parts, "stage " .. status.currentStage)
  end
  if status.progress ~= nil and status.progress ~= "" then
    table.insert(parts, status.progress .. " clusters done")
  end
  if status.message ~= nil and status.message ~= "" then
    table.insert(parts, status.message)
  end
  return table.concat(parts, ", ")
end

local status = obj.status
if status == nil or status.phase == nil or status.phase == "" then
  hs.status = "Progressing"
  hs.message = "Waiting for the rollout controller to report status"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the rollout controller to observe generation " .. tostring(generation)
  return hs
end

local phase = status.phase
if phase == "Completed" then
  hs.status = "Healthy"
elseif phase == "Failed" or phase == "RolledBack" then
  hs.status = "Degraded"
elseif phase == "Paused" or phase == "Aborted" then
  hs.status = "Suspended"
elseif phase == "Pending" or phase == "Progressing" then
  hs.status = "Progressing"
else
  hs.status = "Unknown"
end

local detail = describe(status)
if detail ~= "" then
  hs.message = phase .. ": " .. detail
else
  hs.message = phase
end
return hs
