--[[
  release-address: Returns an address. ARGV: P, ip, requiredCluster ('' = any)

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include ip-math
--@include release
--@include idem-open
return releaseAddress(ARGV[2], ARGV[3])
--@include idem-close
