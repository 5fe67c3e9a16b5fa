// `xva serve` against Xen Orchestra's XenAPI client, the `xen-api` npm
// package (exactly 4.7.6), in three set-ups: its defaults (JSON-RPC,
// events watched), events not watched, and the XML-RPC transport.  Each
// one connects, lists the VMs, exports the source VM to a file that
// `xva verify` accepts, imports that file as a stream of known length
// and as one of unknown length (the client's fake 1 PiB length), checks
// that the new VMs' disks are the source disks byte for byte, destroys
// them with VM.destroy, sees a corrupted archive fail with the XenAPI
// error code and leave no VM, and disconnects.
//
// Run by tests/e2e/interop-xen-api.sh, which starts the server and sets:
//   XVA            the xva binary
//   XVA_URL        http://127.0.0.1:PORT
//   XVA_PASSWORD   root's password
//   XVA_VM_NAME    name of the source VM (already imported)
//   XVA_DISKS      its disk images, in userdevice order, ':'-separated
//   XVA_WORKDIR    a scratch directory
//   XVA_SERVER_LOG the server's request log

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'

import { Xapi } from 'xen-api'

const run = promisify(execFile)

function env(name) {
  const v = process.env[name]
  if (v === undefined || v === '') {
    throw new Error(`${name} is not set: run tests/e2e/interop-xen-api.sh`)
  }
  return v
}

const XVA = env('XVA')
const URL_ = env('XVA_URL')
const PASSWORD = env('XVA_PASSWORD')
const VM_NAME = env('XVA_VM_NAME')
const DISKS = env('XVA_DISKS').split(':')
const WORK = env('XVA_WORKDIR')
const SERVER_LOG = env('XVA_SERVER_LOG')

const REF_RE = /^OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const STEP_MS = 60e3 // one client call, transfer or wait

// ---- helpers -------------------------------------------------------------

// Rejects when promise takes longer than ms (a hang fails the test).
function within(promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

async function eventually(check, what, ms = 10e3) {
  const end = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

// One JSON-RPC call beside the client: {result} or {error}.
async function rawCall(method, params) {
  const res = await fetch(`${URL_}/jsonrpc`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  })
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/json')
  return res.json()
}

// `xva verify` accepts file (with this compression), and `xva extract`
// gives images equal to DISKS byte for byte.
async function checkArchive(file, compression) {
  const { stdout } = await run(XVA, ['verify', file], { timeout: STEP_MS })
  if (compression !== undefined) {
    assert.match(stdout, new RegExp(`^compression: ${compression}$`, 'm'), `${file}: ${stdout}`)
  }
  const dir = fs.mkdtempSync(path.join(WORK, 'extract-'))
  await run(XVA, ['extract', '-q', '-C', dir, file], { timeout: STEP_MS })
  const images = fs
    .readdirSync(dir)
    .filter(name => /^\d+-.*\.img$/.test(name))
    .sort((a, b) => parseInt(a) - parseInt(b))
  assert.equal(images.length, DISKS.length, `${file}: images ${images}`)
  images.forEach((name, i) => {
    assert.match(name, new RegExp(`^${i}-`))
    const got = fs.readFileSync(path.join(dir, name))
    const want = fs.readFileSync(DISKS[i])
    assert.ok(got.equals(want), `${file}: disk ${i} (${name}) differs from ${DISKS[i]}`)
  })
  fs.rmSync(dir, { recursive: true, force: true })
}

// A copy of the archive src with one byte of its first disk chunk
// flipped: a checksum mismatch after the VM's metadata was read.
function corruptCopy(src, dst) {
  const buf = fs.readFileSync(src)
  for (let off = 0; off + 512 <= buf.length; ) {
    const header = buf.subarray(off, off + 512)
    if (header.every(b => b === 0)) break
    const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '')
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8)
    if (/\/\d{8}$/.test(name) && size > 100) {
      buf[off + 512 + 100] ^= 0xff
      fs.writeFileSync(dst, buf)
      return
    }
    off += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error(`${src}: no disk chunk found`)
}

// The refs in an import task's result (XML-RPC text of an array).
function resultRefs(result) {
  assert.match(
    result,
    /^<value><array><data>(<value>OpaqueRef:[0-9a-f-]+<\/value>)+<\/data><\/array><\/value>$/,
    `task result ${result}`
  )
  return [...result.matchAll(/OpaqueRef:[0-9a-f-]+/g)].map(m => m[0])
}

// Polls a task made for a transfer until it is no longer pending.
async function waitTask(xapi, ref) {
  let task
  await eventually(
    async () => {
      task = await xapi.call('task.get_record', ref)
      return task.status !== 'pending' && task.status !== 'cancelling'
    },
    `task ${ref}`,
    STEP_MS
  )
  return task
}

function serverLogSize() {
  return fs.statSync(SERVER_LOG).size
}

function serverLogSince(size) {
  const fd = fs.openSync(SERVER_LOG, 'r')
  try {
    const len = fs.fstatSync(fd).size - size
    const buf = Buffer.alloc(Math.max(len, 0))
    fs.readSync(fd, buf, 0, buf.length, size)
    return buf.toString('utf8')
  } finally {
    fs.closeSync(fd)
  }
}

// ---- fixtures ------------------------------------------------------------

const CORRUPT = path.join(WORK, 'corrupt.xva')
let corruptMade = false

before(async () => {
  // The corrupted archive comes from a fresh export through curl.
  const login = await rawCall('session.login_with_password', ['root', PASSWORD])
  const sid = login.result
  assert.match(sid, REF_RE)
  const vm = (await rawCall('VM.get_by_name_label', [sid, VM_NAME])).result
  assert.equal(vm.length, 1, `VMs named ${VM_NAME}: ${vm}`)
  const plain = path.join(WORK, 'plain.xva')
  await run('curl', ['-sS', '-f', '-o', plain, `${URL_}/export?session_id=${sid}&ref=${vm[0]}`], {
    timeout: STEP_MS,
  })
  corruptCopy(plain, CORRUPT)
  corruptMade = true
  await rawCall('session.logout', [sid])
})

after(async () => {
  // A disconnected client still has an event.from waiting: a task
  // event ends those polls now rather than at their 60 s timeout.
  const sid = (await rawCall('session.login_with_password', ['root', PASSWORD])).result
  const task = (await rawCall('task.create', [sid, 'wake the pollers', ''])).result
  await rawCall('task.destroy', [sid, task])
  await rawCall('session.logout', [sid])
})

// ---- the scenario --------------------------------------------------------

const SETUPS = [
  { name: 'default options (JSON-RPC, events watched)', opts: {}, events: true, wire: 'jsonrpc' },
  { name: 'watchEvents: false', opts: { watchEvents: false }, events: false, wire: 'jsonrpc' },
  { name: "transport: 'xml-rpc'", opts: { transport: 'xml-rpc' }, events: true, wire: 'xmlrpc' },
]

for (const setup of SETUPS) {
  test(setup.name, { timeout: 10 * STEP_MS }, async t => {
    const dir = fs.mkdtempSync(path.join(WORK, 'client-'))
    const logStart = serverLogSize()
    const warnings = []
    const warn = console.warn
    console.warn = (...args) => {
      warnings.push(args)
      warn(...args)
    }
    const xapi = new Xapi({ url: URL_, auth: { user: 'root', password: PASSWORD }, ...setup.opts })
    const { events } = setup
    const made = [] // VMs made by imports, destroyed at the end
    let srcRef, srRef, vmsBefore

    // An import through putResource.  With events the client makes the
    // task and resolves to its result; without, the task is made here
    // and named with task_id (the client cannot watch it) and its
    // result read back.
    async function importStream(file, knownLength) {
      const stream = fs.createReadStream(file)
      if (knownLength) {
        // How the client learns a stream's size (else: the fake length).
        stream.length = fs.statSync(file).size
      }
      if (events) {
        return within(
          xapi.putResource(stream, '/import/', { query: { sr_id: srRef }, task: true }),
          STEP_MS,
          'putResource'
        )
      }
      const taskRef = await xapi.call('task.create', 'interop import', '')
      try {
        const r = await within(
          xapi.putResource(stream, '/import/', { query: { sr_id: srRef, task_id: taskRef } }),
          STEP_MS,
          'putResource'
        )
        assert.equal(r, undefined)
        const task = await waitTask(xapi, taskRef)
        if (task.status !== 'success') {
          const error = new Error(`import task ${task.status}: ${task.error_info}`)
          error.code = task.error_info[0]
          error.params = task.error_info.slice(1)
          throw error
        }
        return resultRefs(task.result)
      } finally {
        await xapi.call('task.destroy', taskRef)
      }
    }

    try {
      await t.test('connect and log in', async () => {
        await within(xapi.connect(), STEP_MS, 'connect')
        assert.equal(xapi.status, 'connected')
        assert.match(xapi.sessionId, REF_RE)
        assert.match(xapi.pool.$ref, REF_RE)
        assert.equal(typeof xapi.pool.other_config, 'object')
        srRef = await xapi.call('pool.get_default_SR', xapi.pool.$ref)
        assert.match(srRef, REF_RE)
      })

      await t.test('list the VMs', async () => {
        const records = await xapi.call('VM.get_all_records')
        const mine = Object.entries(records).filter(([, r]) => r.name_label === VM_NAME)
        assert.equal(mine.length, 1, `VMs named ${VM_NAME}`)
        ;[srcRef] = mine[0]
        const rec = mine[0][1]
        assert.match(srcRef, REF_RE)
        assert.equal(rec.power_state, 'Halted')
        assert.equal(rec.is_a_template, false)
        assert.equal(rec.is_control_domain, false)
        assert.ok(rec.VBDs.length >= DISKS.length)
        vmsBefore = Object.keys(records).length
        if (events) {
          // The cache the event loop fills: the same VMs, their links.
          await within(xapi.objectsFetched, STEP_MS, 'objectsFetched')
          const cached = Object.values(xapi.objects.all).filter(o => o.$type === 'VM')
          assert.deepEqual(cached.map(o => o.$ref).sort(), Object.keys(records).sort())
          const vm = xapi.getObjectByRef(srcRef)
          assert.equal(vm.name_label, VM_NAME)
          const disks = vm.$VBDs.filter(vbd => vbd.type === 'Disk')
          assert.equal(disks.length, DISKS.length)
          for (const vbd of disks) assert.equal(vbd.$VDI.$type, 'VDI')
          assert.equal(xapi.getObjectByRef(srRef).$type, 'SR')
          // barrier(): pool.add_to_other_config, then its event.
          await within(xapi.barrier(), STEP_MS, 'barrier')
          assert.equal((await within(xapi.barrier(srcRef), STEP_MS, 'barrier(ref)')).$ref, srcRef)
          assert.equal(xapi.watchEventsError, undefined)
        }
      })

      const exported = path.join(dir, 'export.xva')
      await t.test("export with getResource('/export/', zstd)", async () => {
        if (events) {
          const res = await within(
            xapi.getResource('/export/', { query: { ref: srcRef, use_compression: 'zstd' }, task: true }),
            STEP_MS,
            'getResource'
          )
          assert.equal(res.statusCode, 200)
          assert.match(res.headers['task-id'], REF_RE)
          await within(pipeline(res.body, fs.createWriteStream(exported)), STEP_MS, 'export body')
          assert.equal(await within(res.task, STEP_MS, 'export task'), '')
        } else {
          const taskRef = await xapi.call('task.create', 'interop export', '')
          const res = await within(
            xapi.getResource('/export/', { query: { ref: srcRef, use_compression: 'zstd', task_id: taskRef } }),
            STEP_MS,
            'getResource'
          )
          assert.equal(res.statusCode, 200)
          assert.equal(res.headers['task-id'], taskRef)
          await within(pipeline(res.body, fs.createWriteStream(exported)), STEP_MS, 'export body')
          assert.equal((await waitTask(xapi, taskRef)).status, 'success')
          await xapi.call('task.destroy', taskRef)
        }
        await checkArchive(exported, 'zstd')
      })

      for (const knownLength of [true, false]) {
        const kind = knownLength ? 'known length' : 'unknown length (1 PiB)'
        await t.test(`import with putResource, ${kind}`, async () => {
          const refs = await importStream(exported, knownLength)
          assert.ok(Array.isArray(refs) && refs.length === 1, `result ${refs}`)
          const [ref] = refs
          assert.match(ref, REF_RE)
          assert.notEqual(ref, srcRef)
          made.push(ref)
          const rec = await xapi.call('VM.get_record', ref)
          assert.equal(rec.name_label, VM_NAME)
          assert.notEqual(rec.uuid, (await xapi.call('VM.get_record', srcRef)).uuid)
          if (events) {
            // The import's events come before its task's: the new VM
            // is in the cache when the task's result is.
            const vm = xapi.getObjectByRef(ref, undefined)
            assert.ok(vm !== undefined, 'the new VM is not in the cache')
            assert.equal(vm.name_label, VM_NAME)
            assert.equal(vm.$VBDs.filter(vbd => vbd.type === 'Disk').length, DISKS.length)
            for (const vbd of vm.$VBDs) if (vbd.type === 'Disk') assert.equal(vbd.$VDI.$SR.$ref, srRef)
            assert.equal((await within(xapi.barrier(ref), STEP_MS, 'barrier(new VM)')).name_label, VM_NAME)
          }
          // Its disks, through curl with the client's session.
          const back = path.join(dir, `back-${made.length}.xva`)
          await run(
            'curl',
            ['-sS', '-f', '-o', back, `${URL_}/export?session_id=${xapi.sessionId}&ref=${ref}`],
            { timeout: STEP_MS }
          )
          await checkArchive(back, 'none')
        })
      }

      await t.test('a corrupted archive fails with the XenAPI code and leaves no VM', async () => {
        assert.ok(corruptMade)
        const vdis = (await xapi.call('VDI.get_all')).length
        for (const knownLength of [true, false]) {
          await assert.rejects(importStream(CORRUPT, knownLength), error => {
            assert.equal(error.code, 'IMPORT_ERROR', `${error.stack}`)
            assert.match(String(error.params[0]), /checksum mismatch/)
            return true
          })
          assert.equal((await xapi.call('VM.get_all')).length, vmsBefore + made.length)
          assert.equal((await xapi.call('VDI.get_all')).length, vdis)
        }
      })

      await t.test("VM.destroy through call()", async () => {
        assert.equal(made.length, 2)
        while (made.length > 0) {
          const ref = made.pop()
          assert.equal(await xapi.call('VM.destroy', ref), '')
          await assert.rejects(xapi.call('VM.get_record', ref), { code: 'HANDLE_INVALID' })
          if (events) {
            await within(xapi.barrier(), STEP_MS, 'barrier')
            assert.equal(xapi.getObjectByRef(ref, undefined), undefined)
          }
        }
        assert.equal((await xapi.call('VM.get_all')).length, vmsBefore)
      })

      await t.test('disconnect', async () => {
        const sid = xapi.sessionId
        await xapi.disconnect()
        assert.equal(xapi.status, 'disconnected')
        // The client logs out without waiting for the answer.
        await eventually(
          async () => (await rawCall('VM.get_all', [sid])).error?.message === 'SESSION_INVALID',
          'the session ends'
        )
      })

      await t.test(`the calls went over ${setup.wire}, without warnings`, () => {
        const log = serverLogSince(logStart)
        const other = setup.wire === 'jsonrpc' ? 'xmlrpc' : 'jsonrpc'
        assert.match(log, new RegExp(`POST /${setup.wire} 200`))
        // Only the scenario's own side calls (rawCall) use JSON-RPC.
        if (other === 'xmlrpc') assert.doesNotMatch(log, /POST \/xmlrpc/)
        const unexpected = warnings.filter(args => !args.includes('missing length'))
        assert.deepEqual(unexpected, [])
        // The unknown-length imports (and only they) said so.
        assert.equal(warnings.length - unexpected.length, 2)
      })
    } finally {
      console.warn = warn
      if (xapi.status !== 'disconnected') await xapi.disconnect()
      // Leave no VM behind, whatever failed.
      if (made.length > 0) {
        const sid = (await rawCall('session.login_with_password', ['root', PASSWORD])).result
        for (const ref of made) await rawCall('VM.destroy', [sid, ref])
        await rawCall('session.logout', [sid])
      }
    }
  })
}
