// A/A control: the bare Fastify server again, in a second process. Its ratio to the baseline
// should be 1; how far it strays shows the noise floor of the run.
import './fastify-bare.mjs'
