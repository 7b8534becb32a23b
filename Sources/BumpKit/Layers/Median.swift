/// The median of `values` (not empty, no NaN): the middle value, or the mean of the two
/// middle ones for an even count, computed as lower/2 + upper/2 so that it cannot overflow.
///
/// Linear on average: the middle values are selected (quickselect), not sorted. The one
/// median of the package: layer statistics and the command's column plans both use it.
package func median(of values: [Double]) -> Double {
  var values = values
  let n = values.count
  return values.withUnsafeMutableBufferPointer { v in
    let upper = selectRank(n / 2, in: v)
    guard n % 2 == 0 else { return upper }
    // After selecting the upper middle, every value before it is ≤ it: the lower middle
    // is their largest.
    var lower = v[0]
    for i in 1..<(n / 2) where v[i] > lower { lower = v[i] }
    return lower / 2 + upper / 2
  }
}

/// The value of rank `k` (0-based) of `v`, which is reordered so that the values before
/// position k are ≤ it and those after it are ≥ it (Hoare's selection with a median-of-three
/// pivot). The values hold no NaN.
package func selectRank(_ k: Int, in v: UnsafeMutableBufferPointer<Double>) -> Double {
  var lo = 0
  var hi = v.count - 1
  while lo < hi {
    let mid = lo + (hi - lo) / 2
    if v[mid] < v[lo] { v.swapAt(mid, lo) }
    if v[hi] < v[lo] { v.swapAt(hi, lo) }
    if v[hi] < v[mid] { v.swapAt(hi, mid) }
    let pivot = v[mid]
    var i = lo
    var j = hi
    while i <= j {
      while v[i] < pivot { i += 1 }
      while v[j] > pivot { j -= 1 }
      if i <= j {
        v.swapAt(i, j)
        i += 1
        j -= 1
      }
    }
    if k <= j {
      hi = j
    } else if k >= i {
      lo = i
    } else {
      return v[k]
    }
  }
  return v[k]
}
