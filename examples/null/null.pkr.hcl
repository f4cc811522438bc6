# A template that builds nothing but proves the credentials arrived: the
# null builder needs no cloud, shell-local runs on the runner. packer-vault
# puts the secrets into Packer's environment; the provisioner checks them.

variable "image_name" {
  type    = string
  default = "golden-base"
}

source "null" "base" {
  communicator = "none"
}

build {
  name    = "golden"
  sources = ["source.null.base"]

  provisioner "shell-local" {
    inline = [
      "test -n \"$HCP_CLIENT_ID\" || { echo 'HCP_CLIENT_ID is missing'; exit 1; }",
      "echo \"building ${var.image_name} with client id $HCP_CLIENT_ID\"",
    ]
  }

  post-processor "manifest" {
    output     = "packer-manifest.json"
    strip_path = true
  }
}
