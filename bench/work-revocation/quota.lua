local n, quota = 0, tonumber(os.getenv("IR_N"))
function response()
  n = n + 1
  if n >= quota then io.write("done\n"); io.flush(); os.exit(0) end
end
