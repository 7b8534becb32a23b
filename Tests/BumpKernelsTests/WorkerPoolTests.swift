import Foundation
import Synchronization
import Testing
@testable import BumpKernels
import BumpTestSupport

@Suite("Worker pool")
struct WorkerPoolTests {
  /// Counts how often each task ran and whether two running bodies ever shared a worker.
  final class Ledger: @unchecked Sendable {
    let counts: UnsafeMutableBufferPointer<Atomic<Int>>
    let busyWorkers: UnsafeMutableBufferPointer<Atomic<Int>>
    let clashes = Atomic<Int>(0)
    let badWorker = Atomic<Int>(0)
    init(tasks: Int, workers: Int) {
      counts = .allocate(capacity: tasks)
      for i in 0..<tasks { (counts.baseAddress! + i).initialize(to: Atomic(0)) }
      busyWorkers = .allocate(capacity: workers)
      for i in 0..<workers { (busyWorkers.baseAddress! + i).initialize(to: Atomic(0)) }
    }
    deinit {
      counts.deallocate()
      busyWorkers.deallocate()
    }
    func record(task: Int, worker: Int, allowed: Int) {
      guard worker >= 0, worker < allowed else {
        badWorker.add(1, ordering: .relaxed)
        return
      }
      if busyWorkers[worker].add(1, ordering: .acquiringAndReleasing).newValue != 1 { clashes.add(1, ordering: .relaxed) }
      counts[task].add(1, ordering: .relaxed)
      // Some work, so that tasks overlap.
      var x = 0.0
      for i in 0..<(task % 7) * 50 { x += Double(i).squareRoot() }
      if x < 0 { print(x) }
      busyWorkers[worker].subtract(1, ordering: .acquiringAndReleasing)
    }
  }

  @Test("every task of every job runs exactly once, on a worker id in range that no other running task holds",
        arguments: [1, 2, 3, 8])
  func everyTaskRunsOnce(threads: Int) {
    let pool = WorkerPool(threads: threads)
    defer { pool.retire() }
    var generator = SplitMix64(seed: UInt64(threads))
    for job in 0..<3000 {
      let tasks = Int(generator.next() % 40)
      let cap = job % 3 == 0 ? Int(generator.next() % 4) + 1 : threads
      let allowed = max(1, min(cap, threads, tasks))
      let ledger = Ledger(tasks: max(tasks, 1), workers: allowed)
      pool.run(tasks: tasks, workers: cap) { task, worker in ledger.record(task: task, worker: worker, allowed: allowed) }
      for t in 0..<tasks where ledger.counts[t].load(ordering: .relaxed) != 1 {
        Issue.record("job \(job): task \(t) of \(tasks) ran \(ledger.counts[t].load(ordering: .relaxed)) times")
        return
      }
      #expect(ledger.clashes.load(ordering: .relaxed) == 0)
      #expect(ledger.badWorker.load(ordering: .relaxed) == 0)
    }
  }

  @Test("jobs posted from several threads at once all complete; a busy pool runs the second job on its caller")
  func concurrentPosters() async {
    let pool = WorkerPool(threads: 3)
    defer { pool.retire() }
    await withTaskGroup(of: Bool.self) { group in
      for poster in 0..<4 {
        group.addTask {
          for job in 0..<500 {
            let tasks = (poster + job) % 17 + 1
            let sum = Atomic<Int>(0)
            pool.run(tasks: tasks) { task, _ in sum.add(task + 1, ordering: .relaxed) }
            if sum.load(ordering: .relaxed) != tasks * (tasks + 1) / 2 { return false }
          }
          return true
        }
      }
      for await ok in group { #expect(ok) }
    }
  }

  @Test("a job posted inside a task, and RowTasks inside a task, run serially on that thread")
  func nestedRunsSerially() {
    let pool = WorkerPool(threads: 4)
    defer { pool.retire() }
    let nestedWorkers = Atomic<Int>(0)
    let sum = Atomic<Int>(0)
    pool.run(tasks: 8) { _, _ in
      #expect(WorkerPool.isInsideTask)
      pool.run(tasks: 5) { t, worker in
        if worker != 0 { nestedWorkers.add(1, ordering: .relaxed) }
        sum.add(t, ordering: .relaxed)
      }
      RowTasks.run(rows: 100, rowsPerTask: 10, threads: 4) { _, _, worker in
        if worker != 0 { nestedWorkers.add(1, ordering: .relaxed) }
      }
    }
    #expect(nestedWorkers.load(ordering: .relaxed) == 0)
    #expect(sum.load(ordering: .relaxed) == 8 * 10)
    #expect(!WorkerPool.isInsideTask)
  }

  @Test("RowTasks runs on the current thread's pool and gives the same partial sums as on one thread")
  func rowTasksOnThePool() {
    let pool = WorkerPool(threads: 3)
    defer { pool.retire() }
    func sums(_ pool: WorkerPool?, threads: Int) -> [Double] {
      var partial = [Double](repeating: 0, count: 37)
      partial.withUnsafeMutableBufferPointer { p in
        let p = UncheckedSendable(p)
        WorkerPool.withCurrent(pool) {
          RowTasks.run(rows: 37 * 64, rowsPerTask: 64, threads: threads) { task, rows, _ in
            var s = 0.0
            for r in rows { s += 1 / Double(r + 1) }
            p.value[task] = s
          }
        }
      }
      return partial
    }
    let serial = sums(nil, threads: 1)
    #expect(sums(pool, threads: 3) == serial)
    #expect(sums(pool, threads: 2) == serial)
    #expect(WorkerPool.current == nil)
    WorkerPool.withCurrent(pool) { #expect(WorkerPool.current === pool) }
  }

  @Test("RowTasks from the last rows first: the same tasks with the same rows, in reverse order on one thread", arguments: [false, true])
  func rowTasksLastFirst(onPool: Bool) {
    let pool = WorkerPool(threads: 3)
    defer { pool.retire() }
    // 7 tasks of 10 rows and one of 3: task t always covers rows 10t ..< min(73, 10t + 10).
    func visits(lastFirst: Bool, threads: Int) -> [(task: Int, rows: Range<Int>)] {
      let seen = Mutex<[(task: Int, rows: Range<Int>)]>([])
      WorkerPool.withCurrent(onPool ? pool : nil) {
        RowTasks.run(rows: 73, rowsPerTask: 10, threads: threads, lastFirst: lastFirst) { task, rows, _ in
          seen.withLock { $0.append((task, rows)) }
        }
      }
      return seen.withLock { $0 }
    }
    let expected = (0..<8).map { (task: $0, rows: (10 * $0)..<min(73, 10 * $0 + 10)) }
    let forward = visits(lastFirst: false, threads: 1)
    let backward = visits(lastFirst: true, threads: 1)
    #expect(forward.map(\.task) == Array(0..<8))
    #expect(forward.map(\.rows) == expected.map(\.rows))
    #expect(backward.map(\.task) == Array((0..<8).reversed()))
    #expect(backward.map(\.rows) == expected.map(\.rows).reversed())
    for threads in [2, 3] {
      let parallel = visits(lastFirst: true, threads: threads).sorted { $0.task < $1.task }
      #expect(parallel.map(\.task) == Array(0..<8), "\(threads) threads")
      #expect(parallel.map(\.rows) == expected.map(\.rows), "\(threads) threads")
    }
  }

  @Test("a retired pool still runs jobs, on the caller")
  func retiredPoolRunsOnCaller() throws {
    let pool = WorkerPool(threads: 4)
    pool.retire()
    let workers = Atomic<Int>(0)
    let count = Atomic<Int>(0)
    pool.run(tasks: 50) { _, worker in
      if worker != 0 { workers.add(1, ordering: .relaxed) }
      count.add(1, ordering: .relaxed)
    }
    #expect(count.load(ordering: .relaxed) == 50)
    #expect(workers.load(ordering: .relaxed) == 0)
  }

  @Test("preferred parts: each thread takes its own share first, in order, then the others' from their ends")
  func preferredPartsOrder() {
    let parts = PreferredParts()
    // 10 parts, 3 threads: shares 0..<3, 3..<6, 6..<10.
    #expect(parts.claim(worker: 1, threads: 3, count: 10) == 3)
    #expect(parts.claim(worker: 1, threads: 3, count: 10) == 4)
    #expect(parts.claim(worker: 0, threads: 3, count: 10) == 0)
    #expect(parts.claim(worker: 1, threads: 3, count: 10) == 5)
    // Thread 1's share is used up: it takes the last free part of another's.
    #expect(parts.claim(worker: 1, threads: 3, count: 10) == 9)
    #expect(parts.claim(worker: 2, threads: 3, count: 10) == 6)
    #expect(parts.claim(worker: 1, threads: 3, count: 10) == 8)
    #expect(parts.claim(worker: 0, threads: 3, count: 10) == 1)
    #expect(parts.claim(worker: 2, threads: 3, count: 10) == 7)
    #expect(parts.claim(worker: 2, threads: 3, count: 10) == 2)
    #expect(parts.claim(worker: 0, threads: 3, count: 10) == nil)
    parts.reset()
    // More threads than parts: each of the first threads owns one part; a worker number out
    // of range is clamped; 64 parts use every bit.
    #expect(parts.claim(worker: 5, threads: 8, count: 2) == 1)
    #expect(parts.claim(worker: 0, threads: 8, count: 2) == 0)
    #expect(parts.claim(worker: 1, threads: 8, count: 2) == nil)
    parts.reset()
    #expect(parts.claim(worker: 1, threads: 2, count: 64) == 32)
    #expect(parts.claim(worker: 0, threads: 1, count: 0) == nil)
  }

  @Test("preferred parts on a pool: every part of every job runs exactly once; one thread alone takes its share, then the others from the end",
        arguments: [1, 2, 3, 8])
  func preferredPartsOnPool(threads: Int) {
    let pool = WorkerPool(threads: threads)
    defer { pool.retire() }
    let parts = PreferredParts()
    var generator = SplitMix64(seed: UInt64(threads) + 100)
    for job in 0..<2000 {
      let count = Int(generator.next() % 65)
      let ledger = Ledger(tasks: max(count, 1), workers: threads)
      parts.reset()
      pool.run(tasks: count) { _, worker in
        guard let part = parts.claim(worker: worker, threads: threads, count: count) else {
          ledger.badWorker.add(1, ordering: .relaxed)
          return
        }
        ledger.record(task: part, worker: worker, allowed: threads)
      }
      for t in 0..<count where ledger.counts[t].load(ordering: .relaxed) != 1 {
        Issue.record("job \(job): part \(t) of \(count) ran \(ledger.counts[t].load(ordering: .relaxed)) times")
        return
      }
      #expect(ledger.badWorker.load(ordering: .relaxed) == 0)
    }
    // The tasks run on one thread (inside a task, as a nested job does) visit the parts in
    // the order of worker 0's preference: its share, then the others' from the last part.
    let order = Mutex<[Int]>([])
    parts.reset()
    pool.run(tasks: 1) { _, _ in
      WorkerPool(threads: 1).run(tasks: 6) { _, worker in
        let part = parts.claim(worker: worker, threads: 2, count: 6)!
        order.withLock { $0.append(part) }
      }
    }
    #expect(order.withLock { $0 } == [0, 1, 2, 5, 4, 3])
  }
}
