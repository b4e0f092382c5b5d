# Second "lesion": the phantom's mask without its last slice (z = 4), so volumes differ.
import SimpleITK as sitk
mask = sitk.ReadImage("mask/mask.nii.gz")
array = sitk.GetArrayFromImage(mask)
array[-1] = 0
lesion2 = sitk.GetImageFromArray(array)
lesion2.CopyInformation(mask)
sitk.WriteImage(lesion2, "mask/lesion2.nii.gz")
