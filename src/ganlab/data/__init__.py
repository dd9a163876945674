"""Data sources: each writes the raw layout the crop stage reads.

The raw layout: images/ (one file per image, under its original file name), attributes.csv
(CelebA's format: image_id, then one -1/1 column per attribute; absent where the source has no
attributes), partition.csv (image_id,partition with CelebA's 0 train / 1 valid / 2 test) where
the source has one, skipped.csv (file,reason) listing files that are not images, and, for the
synthetic set, true_boxes.csv.
"""

# Kept free of imports: ganlab.params imports ganlab.data.select, which runs this file first.
