//! [`Rows`]: a matrix of f32 rows of one width, stored flat and row-major. The one type for
//! what the draft proposes per token (distributions, hidden states), the feature rows a judge
//! scores and the rows a classifier trains on: one allocation instead of one per row, and a
//! width that cannot differ between rows.

use std::ops::Index;

/// Rows of `width` f32 values each, stored flat (`len × width`, row-major).
///
/// Index it like a slice of rows (`rows[i]` is row `i`); build it with [`Rows::push`],
/// [`Rows::from_rows`] or [`Rows::from_flat`]. An empty `Rows` (the `Default`) takes the width
/// of the first row pushed; after that every row must have it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    data: Vec<f32>,
    width: usize,
    len: usize,
}

/// A row, or a flat buffer, that does not fit a [`Rows`]' width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowsShape {
    /// Row `row` has `got` values where the rows are `width` wide.
    #[error("row {row} has {got} values, the rows before it {width}")]
    Ragged {
        /// Index of the row at fault.
        row: usize,
        /// Its length.
        got: usize,
        /// The width of the rows before it.
        width: usize,
    },
    /// A flat buffer of `len` values is no whole number of `width`-wide rows.
    #[error("{len} values are no whole number of rows {width} wide")]
    Flat {
        /// Length of the buffer.
        len: usize,
        /// Row width asked for.
        width: usize,
    },
}

impl Rows {
    /// No rows yet, each row to be `width` wide.
    pub fn new(width: usize) -> Self {
        Rows {
            data: Vec::new(),
            width,
            len: 0,
        }
    }

    /// No rows yet, room for `rows` rows of `width` values.
    pub fn with_capacity(width: usize, rows: usize) -> Self {
        Rows {
            data: Vec::with_capacity(width * rows),
            width,
            len: 0,
        }
    }

    /// `data` read as rows of `width` values. A zero width holds no rows (and no data).
    pub fn from_flat(data: Vec<f32>, width: usize) -> Result<Self, RowsShape> {
        let len = match data.len().checked_div(width) {
            Some(n) if n * width == data.len() => n,
            None if data.is_empty() => 0,
            _ => {
                return Err(RowsShape::Flat {
                    len: data.len(),
                    width,
                })
            }
        };
        Ok(Rows { data, width, len })
    }

    /// The rows of an iterator, which must all have the first one's width.
    pub fn from_rows<R: AsRef<[f32]>>(
        rows: impl IntoIterator<Item = R>,
    ) -> Result<Self, RowsShape> {
        let mut out = Rows::default();
        for row in rows {
            out.push(row.as_ref())?;
        }
        Ok(out)
    }

    /// Appends a row. The first row of an empty `Rows` made by `Default` (or `new(0)`) sets
    /// the width.
    pub fn push(&mut self, row: &[f32]) -> Result<(), RowsShape> {
        if self.len == 0 && self.width == 0 {
            self.width = row.len();
        }
        if row.len() != self.width {
            return Err(RowsShape::Ragged {
                row: self.len,
                got: row.len(),
                width: self.width,
            });
        }
        self.data.extend_from_slice(row);
        self.len += 1;
        Ok(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Row `i`, or `None` past the last row.
    pub fn get(&self, i: usize) -> Option<&[f32]> {
        (i < self.len).then(|| &self.data[i * self.width..(i + 1) * self.width])
    }

    /// The first row, if any.
    pub fn first(&self) -> Option<&[f32]> {
        self.get(0)
    }

    /// The rows in order.
    pub fn iter(&self) -> RowsIter<'_> {
        RowsIter {
            rows: self,
            next: 0,
            end: self.len,
        }
    }

    /// All values, row-major.
    pub fn as_flat(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major, by value.
    pub fn into_flat(self) -> Vec<f32> {
        self.data
    }

    /// Keeps the first `n` rows (all of them when there are fewer).
    pub fn truncate(&mut self, n: usize) {
        if n < self.len {
            self.len = n;
            self.data.truncate(n * self.width);
        }
    }

    /// The rows at `indices`, in that order (repeats allowed). Panics on an index past the
    /// last row, like slice indexing.
    pub fn select(&self, indices: &[usize]) -> Rows {
        let mut out = Rows::with_capacity(self.width, indices.len());
        for &i in indices {
            out.data.extend_from_slice(&self[i]);
        }
        out.len = indices.len();
        out
    }
}

impl Index<usize> for Rows {
    type Output = [f32];

    /// Row `i`; panics past the last row, like slice indexing.
    fn index(&self, i: usize) -> &[f32] {
        match self.get(i) {
            Some(row) => row,
            None => panic!("row {i} of {} rows", self.len),
        }
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a [f32];
    type IntoIter = RowsIter<'a>;

    fn into_iter(self) -> RowsIter<'a> {
        self.iter()
    }
}

/// Iterator over the rows of a [`Rows`] ([`Rows::iter`]).
#[derive(Clone, Debug)]
pub struct RowsIter<'a> {
    rows: &'a Rows,
    next: usize,
    end: usize,
}

impl<'a> Iterator for RowsIter<'a> {
    type Item = &'a [f32];

    fn next(&mut self) -> Option<&'a [f32]> {
        (self.next < self.end).then(|| {
            self.next += 1;
            &self.rows[self.next - 1]
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for RowsIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.next < self.end).then(|| {
            self.end -= 1;
            &self.rows[self.end]
        })
    }
}

impl ExactSizeIterator for RowsIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rows_keep_one_width() {
        let mut r = Rows::default();
        r.push(&[1.0, 2.0]).unwrap();
        r.push(&[3.0, 4.0]).unwrap();
        assert_eq!(
            r.push(&[5.0]),
            Err(RowsShape::Ragged {
                row: 2,
                got: 1,
                width: 2
            })
        );
        assert_eq!((r.len(), r.width()), (2, 2));
        assert_eq!(&r[1], &[3.0, 4.0]);
        assert_eq!(r.get(2), None);
        assert_eq!(
            Rows::from_flat(vec![0.0; 5], 2),
            Err(RowsShape::Flat { len: 5, width: 2 })
        );
        assert_eq!(Rows::from_flat(vec![], 0).unwrap().len(), 0);
        assert!(Rows::from_flat(vec![1.0], 0).is_err());
        let fixed = Rows::new(3);
        assert!(fixed.clone().push(&[1.0]).is_err());
    }

    #[test]
    fn zero_width_rows_are_counted() {
        let mut r = Rows::new(0);
        r.push(&[]).unwrap();
        r.push(&[]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.iter().count(), 2);
        assert!(r.push(&[1.0]).is_err());
    }

    proptest! {
        /// Rows built any way equal the nested rows they were built from.
        #[test]
        fn rows_equal_their_nested_rows(
            width in 0usize..5,
            n in 0usize..6,
            seed in any::<u32>(),
            keep in 0usize..8,
        ) {
            let nested: Vec<Vec<f32>> = (0..n)
                .map(|i| (0..width).map(|j| (seed as f32) + (i * 10 + j) as f32).collect())
                .collect();
            let mut built = Rows::new(width);
            for row in &nested {
                built.push(row).unwrap();
            }
            // No rows give no width to learn; a zero width gives no row count.
            if n > 0 {
                prop_assert_eq!(&Rows::from_rows(&nested).unwrap(), &built);
            }
            if width > 0 {
                prop_assert_eq!(&Rows::from_flat(nested.concat(), width).unwrap(), &built);
            }
            prop_assert_eq!(built.len(), n);
            prop_assert_eq!(built.iter().map(<[f32]>::to_vec).collect::<Vec<_>>(), nested.clone());
            let picks: Vec<usize> = (0..n).rev().chain(0..n.min(2)).collect();
            let chosen = built.select(&picks);
            for (k, &i) in picks.iter().enumerate() {
                prop_assert_eq!(&chosen[k], nested[i].as_slice());
            }
            let mut cut = built.clone();
            cut.truncate(keep);
            prop_assert_eq!(cut.len(), n.min(keep));
            prop_assert_eq!(cut.as_flat(), &nested.concat()[..n.min(keep) * width]);
        }
    }
}
