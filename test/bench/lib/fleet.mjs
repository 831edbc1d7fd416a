export async function runFleet() {
  return { measured: false, reason: 'pending' }
}
